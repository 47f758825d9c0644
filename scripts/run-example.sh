#!/usr/bin/env bash
# The main job: trains a real model with a kiln-generated program.
#
# Installs what is missing, builds kiln, compiles the Keras model
# examples/breast_cancer/model.json (Normalization, Dense 16 relu, Dropout
# 0.2, Dense 1 sigmoid; binary cross-entropy, Adam, accuracy) into a native
# executable with kilnc, trains it on the Wisconsin breast-cancer training
# split (455 rows: 80% train, 20% validation, 30 epochs, a checkpoint and a
# history file), evaluates it on the held-out test split (114 rows) and
# predicts the first test rows. Fails if the final validation accuracy is
# below 0.95.
#
# Outputs go to $KILN_BUILD_DIR/examples/breast_cancer (default
# build/examples/breast_cancer).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD_DIR:-$root/build}
data=$root/examples/breast_cancer
out=$build/examples/breast_cancer

"$root/scripts/setup.sh"
"$root/scripts/build.sh" kilnc

mkdir -p "$out"
echo "== kilnc: examples/breast_cancer/model.json -> $out/breast_cancer"
"$build/bin/kilnc" "$data/model.json" --batch-size=32 --seed=1 \
  -o "$out/breast_cancer"

echo "== summary"
"$out/breast_cancer" summary

echo "== fit: train.csv (80% train, 20% validation), 30 epochs"
rm -f "$out/checkpoint.safetensors"
"$out/breast_cancer" fit --data "$data/train.csv" --label-column malignant \
  --epochs 30 --validation-split 0.2 \
  --checkpoint "$out/checkpoint.safetensors" --history "$out/history.csv"

echo "== evaluate: test.csv (held out, 114 rows)"
"$out/breast_cancer" evaluate --data "$data/test.csv" \
  --label-column malignant --checkpoint "$out/checkpoint.safetensors"

echo "== predict: P(malignant) of the test rows -> $out/predictions.csv"
"$out/breast_cancer" predict --data "$data/test.csv" --label-column malignant \
  --checkpoint "$out/checkpoint.safetensors" --output "$out/predictions.csv"
head -4 "$out/predictions.csv"

# The history's last row holds the final epoch's validation accuracy.
val_accuracy=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "val_accuracy") c = i }
                        END { print $c }' "$out/history.csv")
echo "== final validation accuracy: $val_accuracy (history: $out/history.csv)"
awk -v a="$val_accuracy" 'BEGIN { exit !(a >= 0.95) }' || {
  echo "run-example: validation accuracy $val_accuracy is below 0.95" >&2
  exit 1
}
