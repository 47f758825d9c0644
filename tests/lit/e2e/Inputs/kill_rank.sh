#!/usr/bin/env bash
# Kills one process of a data-parallel fit and checks that the run stops.
#
# Usage: kill_rank.sh DIR PROGRAM FIT-ARGS...
# Starts PROGRAM fit FIT-ARGS --checkpoint DIR/k.safetensors under
# `mpirun -np 2` (each rank writes its shell's pid to DIR/pid.RANK, then
# execs the program), waits until the first checkpoint exists, kills rank 1
# with SIGKILL and waits for mpirun. Prints mpirun's standard error, then
# "stopped after N s with status S"; exits 1 when mpirun exits 0 or takes
# 20 s or more after the kill (timeout(1) ends a hang at 60 s).
set -u
dir=$1
prog=$2
shift 2
rm -f "$dir"/pid.* "$dir/k.safetensors"
timeout 60 mpirun --allow-run-as-root --oversubscribe -np 2 sh -c \
  'echo $$ > "$0/pid.$OMPI_COMM_WORLD_RANK"; exec "$@"' "$dir" \
  "$prog" fit "$@" --checkpoint "$dir/k.safetensors" --quiet \
  >"$dir/kill.out" 2>"$dir/kill.err" &
launcher=$!
for _ in $(seq 600); do
  [[ -s "$dir/k.safetensors" && -s "$dir/pid.1" ]] && break
  sleep 0.05
done
if [[ ! -s "$dir/pid.1" ]]; then
  echo "kill_rank: rank 1 never started" >&2
  kill "$launcher" 2>/dev/null
  exit 1
fi
sleep 0.3
start=$(date +%s.%N)
kill -KILL "$(cat "$dir/pid.1")"
wait "$launcher"
status=$?
end=$(date +%s.%N)
cat "$dir/kill.err"
seconds=$(/usr/bin/python3 -c "print(round($end - $start, 1))")
echo "stopped after $seconds s with status $status"
[[ $status -ne 0 ]] && /usr/bin/python3 -c "import sys; sys.exit($end - $start >= 20)"
