#!/usr/bin/env bash
# How well `imgclass clean` finds wrong labels beyond one label per image: plants errors in 5% of
# the rows of each task's data (bench/task_data.py; bench/plant_errors.py: a label dropped or
# added, an angle replaced by one 45° or more away, a count 2 or 3 off), runs `clean` with its
# defaults (5 folds, 3 epochs of the default CNN a fold) and scores the label errors it lists.
# Usage: bench/clean_tasks.sh [OUT] [IMAGES] [FOLDS] [CLEAN FLAGS…]   (default runs/bench-clean,
# 2000 images, 5 folds; about 6 minutes on 2 cores; e.g. `… runs/bench-clean 2000 5 --epochs 8`).
# Needs dataset-fashion-mnist (apt).
set -euo pipefail
out=${1:-runs/bench-clean}
n=${2:-2000}
folds=${3:-5}
shift $(( $# < 3 ? $# : 3 ))
fm=/usr/share/datasets/fashion-mnist
bin=${IMGCLASS:-target/release/imgclass}
[ -x "$bin" ] || cargo build --release -q -p imgclass-cli
mkdir -p "$out"
for task in multi-label regression count; do
    data=$out/data/$task
    [ -f "$data/labels.csv" ] || python3 bench/task_data.py "$task" "$fm" "$data" "$n" 0
    python3 bench/plant_errors.py plant "$task" "$data/labels.csv" "$data/noisy.csv" 0.05 7
    start=$(date +%s)
    "$bin" clean "$data" --labels "$data/noisy.csv" --task "$task" --folds "$folds" --out "$out/$task" "$@" 2>/dev/null \
        | grep '^scored'
    echo "$task ($(( $(date +%s) - start )) s): $(python3 bench/plant_errors.py score "$out/$task/clean.csv" "$data/noisy.csv.planted")"
done
