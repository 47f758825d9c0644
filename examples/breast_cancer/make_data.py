#!/usr/bin/python3
"""Writes train.csv and test.csv for the breast_cancer example.

Source: the Wisconsin Diagnostic Breast Cancer data set as shipped by Debian's
python3-sklearn (sklearn/datasets/data/breast_cancer.csv), with the feature
names of sklearn.datasets.load_breast_cancer(). See DATA-SOURCE.md.

Run with Debian's Python, after installing sklearn
(`scripts/setup.sh --examples` adds python3-sklearn):

    scripts/setup.sh --examples
    /usr/bin/python3 examples/breast_cancer/make_data.py

The output is deterministic: rows are split by numpy's default_rng(0)
permutation into 455 training rows and 114 test rows (not stratified).
"""

import csv
import os

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer

N_ROWS = 569
N_FEATURES = 30
N_TRAIN = 455  # the remaining 114 rows are the test set
SEED = 0


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    source = os.path.join(os.path.dirname(sklearn.__file__), "datasets",
                          "data", "breast_cancer.csv")
    names = [n.replace(" ", "_") for n in load_breast_cancer().feature_names]
    assert len(names) == N_FEATURES, names

    with open(source, newline="") as f:
        reader = csv.reader(f)
        # Count header: "569,30,malignant,benign" (target 0 = malignant,
        # 1 = benign, in that order).
        header = next(reader)
        assert header == [str(N_ROWS), str(N_FEATURES), "malignant",
                          "benign"], header
        rows = [row for row in reader if row]
    assert len(rows) == N_ROWS, len(rows)

    out_rows = []
    for row in rows:
        assert len(row) == N_FEATURES + 1, row
        features = row[:N_FEATURES]
        for text in features:
            float(text)  # every feature must be a number
        # sklearn's target is 0 = malignant, 1 = benign; our column
        # `malignant` inverts it: 1 = malignant, 0 = benign.
        target = int(row[N_FEATURES])
        assert target in (0, 1), row
        # Features keep their original text, so they round-trip exactly.
        out_rows.append(features + [str(1 - target)])

    order = np.random.default_rng(SEED).permutation(N_ROWS)
    splits = {"train.csv": order[:N_TRAIN], "test.csv": order[N_TRAIN:]}
    for filename, indices in splits.items():
        path = os.path.join(here, filename)
        with open(path, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(names + ["malignant"])
            for i in indices:
                writer.writerow(out_rows[i])
        malignant = sum(int(out_rows[i][-1]) for i in indices)
        print(f"{path}: {len(indices)} rows ({malignant} malignant, "
              f"{len(indices) - malignant} benign)")


if __name__ == "__main__":
    main()
