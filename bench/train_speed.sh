#!/usr/bin/env bash
# Training speed of imgclass's default CNN against the same network in PyTorch (CPU, 2 threads),
# same batch, same number of steps, measured back to back in one run. Prints images/s of each
# and the ratio imgclass / PyTorch. Installs torch with pip if it is missing.
#
# usage: bench/train_speed.sh [steps] [warmup] [batch_size]
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}; warmup=${2:-10}; batch=${3:-64}
python3 -c 'import torch' 2>/dev/null || python3 -m pip install --quiet torch
cargo build --release --quiet -p imgclass --example bench_train
ours=$(target/release/examples/bench_train "$steps" "$warmup" "$batch")
theirs=$(python3 bench/torch_cnn.py "$steps" "$warmup" "$batch")
echo "$ours"
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"imgclass {a['images_per_s']:.0f} img/s, PyTorch {b['images_per_s']:.0f} img/s, "
      f"ratio imgclass/PyTorch = {a['images_per_s'] / b['images_per_s']:.2f}; "
      f"peak RSS imgclass {a['peak_rss_mb']} MB, PyTorch {b['peak_rss_mb']} MB")
PY
