#!/usr/bin/env bash
# Image-loading throughput of imgclass (`imgclass data bench`) against torchvision's ImageFolder +
# DataLoader with the same transforms (bench/torch_loader.py), on N synthetic 1024×768 JPEG photos
# (bench/make_photos.py, ~200 KB each) presized to 448 and cropped to 224, with fastai's default
# augmentation and without. Both sides use WORKERS worker processes/threads and batches of 64.
# Prints images/s of each and the ratio imgclass / torchvision, and writes the table to
# runs/bench-photos/throughput.json. torch and torchvision are installed only with BENCH_INSTALL_TORCH=1.
#
# usage: bench/loader_throughput.sh [N] [WORKERS]    (defaults 200 and 2)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}; workers=${2:-2}
bin=target/release/imgclass
data=runs/bench-photos
pip_install() { python3 -m pip install --quiet "$@" || python3 -m pip install --quiet --break-system-packages "$@"; }
python3 -c 'import numpy, PIL' 2>/dev/null || pip_install numpy pillow
# The peer is installed on request only (PyPI's torch brings ~3 GB of CUDA libraries):
# BENCH_INSTALL_TORCH=1, or `pip install torch torchvision` once. Without it only imgclass is timed.
if ! python3 -c 'import torchvision' 2>/dev/null && [ "${BENCH_INSTALL_TORCH:-0}" = 1 ]; then
  pip_install torch torchvision
fi
peer=1; python3 -c 'import torchvision' 2>/dev/null || peer=0
[ -x $bin ] || cargo build --release --quiet -p imgclass-cli
rm -f $data/throughput.json  # the last run's result, not a photo
python3 bench/make_photos.py $data "$n"
args=(--size 224 --presize 448 --workers "$workers" --batch-size 64 --json)
results=()
for aug in default none; do
  ours=$($bin data bench $data --aug $aug "${args[@]}" | tail -n 1)
  echo "imgclass    $ours"
  if [ $peer = 1 ]; then
    theirs=$(python3 bench/torch_loader.py $data --aug $aug "${args[@]}")
    echo "torchvision $theirs"
    results+=("$aug" "$ours" "$theirs")
  fi
done
if [ $peer = 0 ]; then
  echo "torchvision is not installed: imgclass alone was timed (BENCH_INSTALL_TORCH=1 $0 $n $workers for the comparison)"
  exit 0
fi
python3 - $data/throughput.json "$workers" "${results[@]}" <<'PY'
import json, sys
out, workers, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows = []
for aug, ours, theirs in zip(rest[::3], rest[1::3], rest[2::3]):
    a, b = json.loads(ours)["images_per_second"], json.loads(theirs)["images_per_second"]
    rows.append({"aug": aug, "images": json.loads(ours)["images"], "workers": workers,
                 "imgclass_images_per_second": a, "torchvision_images_per_second": b, "ratio": round(a / b, 2)})
print(f"{'aug':8} {'imgclass img/s':>15} {'torchvision img/s':>18} {'imgclass/torchvision':>21}")
for r in rows:
    print(f"{r['aug']:8} {r['imgclass_images_per_second']:15.1f} {r['torchvision_images_per_second']:18.1f} {r['ratio']:21.2f}")
json.dump(rows, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
