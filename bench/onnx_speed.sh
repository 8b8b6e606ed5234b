#!/usr/bin/env bash
# Inference speed of imgclass against onnxruntime running the same network exported by
# `imgclass export` (CPU, 2 threads each, random weights, the same input size), batch 32 and
# batch 1, for the default CNN (28 px, grey) and EfficientNet-Lite0 (224 px), measured back to
# back in one run. Prints images/s and milliseconds per image of each and the ratio
# imgclass / onnxruntime. Installs onnxruntime and numpy with pip (into bench/out/python) if
# this Python lacks them.
#
# usage: bench/onnx_speed.sh [steps] [warmup]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}; warmup=${2:-3}
out=bench/out/onnx-speed
mkdir -p "$out"
if ! python3 -c 'import onnxruntime, numpy' 2>/dev/null; then
    python3 -m pip install --quiet --target bench/out/python onnxruntime numpy
    export PYTHONPATH="$PWD/bench/out/python"
fi
cargo build --release --quiet -p imgclass --example bench_train -p imgclass-cli
results=()
for case in "cnn 28" "efficientnet_lite0 224"; do
    set -- $case
    for batch in 32 1; do
        n=$steps; [ "$batch" = 1 ] && n=$((steps * 8))
        bundle="$out/$1.imgclass"
        ours=$(BENCH_ARCH=$1 BENCH_SIZE=$2 BENCH_MODE=infer BENCH_BUNDLE="$bundle" \
            target/release/examples/bench_train "$n" "$warmup" "$batch")
        target/release/imgclass export "$bundle" -o "$out/$1.onnx" >/dev/null
        theirs=$(python3 bench/ort_speed.py "$out/$1.onnx" "$batch" "$n" "$warmup")
        echo "$ours"; echo "$theirs"
        results+=("$ours" "$theirs")
    done
done
python3 - "${results[@]}" <<'PY'
import json, sys
r = [json.loads(a) for a in sys.argv[1:]]
print("| network | batch | imgclass img/s (ms/img) | onnxruntime img/s (ms/img) | imgclass / onnxruntime |")
print("|---|---|---|---|---|")
for ours, theirs in zip(r[::2], r[1::2]):
    a, b = ours["images_per_s"], theirs["images_per_s"]
    print(f"| {ours['arch']} {ours['size']} px | {ours['batch']} | {a:.1f} ({1000 / a:.2f}) | "
          f"{b:.1f} ({1000 / b:.2f}) | {a / b:.2f} |")
PY
