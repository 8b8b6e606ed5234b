#!/usr/bin/env bash
# The Fashion-MNIST preset and its ablation: `--preset fashion` on the full set (57,000 train,
# 3,000 valid, the 10,000 official test images), then the same run with one ingredient taken out
# or swapped, each on its own (one run at a time, so each time is the machine's alone). Prints a
# table of test accuracy (also with test-time augmentation, `evaluate --tta shift`), valid
# accuracy and training time, and writes it to runs/fashion-preset/ablation.md.
#
# usage: bench/fashion_preset.sh [ROW ...]    (default: every row; about 30 minutes each on 2 cores)
# rows: preset erase (random erasing added) no_smoothing no_aug (no shifts)
#       crop_flip (3-pixel crops and flips instead of 1-pixel shifts) default_cnn mixup cutmix
# Needs Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/imgclass
data=/usr/share/datasets/fashion-mnist
out=runs/fashion-preset
[ -x $bin ] || cargo build --release --quiet -p imgclass-cli
mkdir -p $out
declare -A flags=(
  [preset]=""
  [erase]="--erase 0.5"
  [no_smoothing]="--label-smoothing 0"
  [no_aug]="--aug none"
  [crop_flip]="--aug crop"
  [default_cnn]="--channels 32,64 --hidden 128"
  [mixup]="--mixup"
  [cutmix]="--cutmix"
)
rows=("$@")
[ ${#rows[@]} -gt 0 ] || rows=(preset erase no_smoothing no_aug crop_flip default_cnn mixup cutmix)
for row in "${rows[@]}"; do
  [ -n "${flags[$row]+x}" ] || { echo "unknown row $row (rows: ${!flags[*]})" >&2; exit 2; }
  # shellcheck disable=SC2086  # the flags are words
  $bin train $data --preset fashion ${flags[$row]} --out $out/$row --overwrite --json > $out/$row.log 2>&1 \
    || { cat $out/$row.log; exit 1; }
  # Test-time augmentation: the test images and their one-pixel shifts (the bundled sample is
  # the same 10,000 test images).
  $bin evaluate $out/$row/model.imgclass crates/imgclass/data/fashion-mnist-t10k --tta shift --json 2>/dev/null \
    | tail -n 1 > $out/$row/tta_shift.json
  echo "$row done"
done
python3 - $out "${rows[@]}" <<'PY'
import json, os, sys
out, rows = sys.argv[1], sys.argv[2:]
lines = ["| row | epochs | training time | valid | test | test, `--tta shift` |", "|---|---|---|---|---|---|"]
for row in [r for r in ["preset", "erase", "no_smoothing", "no_aug", "crop_flip", "default_cnn", "mixup", "cutmix"]
            if os.path.exists(f"{out}/{r}/report.json")]:
    r = json.load(open(f"{out}/{row}/report.json"))
    seconds = sum(m["seconds"] for m in r["history"])
    tta = json.load(open(f"{out}/{row}/tta_shift.json"))["accuracy"]
    lines.append(f"| {row} | {len(r['history'])} | {seconds / 60:.1f} min | {r['final_metrics']['accuracy']:.4f} "
                 f"| **{r['test_metrics']['accuracy']:.4f}** | {tta:.4f} |")
table = "\n".join(lines)
print(table)
open(f"{out}/ablation.md", "w").write(table + "\n")
PY
