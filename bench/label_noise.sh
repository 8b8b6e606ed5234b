#!/usr/bin/env bash
# How well `imgclass clean` finds wrong labels: flips a known share of the bundled Fashion-MNIST
# sample's labels (5% by default, each to another class, seeded), then compares, among the top N
# images (N = the number flipped), confident learning on K-fold out-of-fold predictions (what
# `imgclass clean` does) with ranking by the loss of one model trained on all the images
# (fastai's top losses). Prints one JSON line and a summary.
#
# usage: bench/label_noise.sh [percent flipped] [epochs a fold] [folds]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p imgclass --example label_noise
out=$(target/release/examples/label_noise "${1:-5}" "${2:-3}" "${3:-5}")
echo "$out"
python3 - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
cl, m, tl = r["confident_learning"], r["confident_learning_margin"], r["top_losses"]
print(f"{r['flipped']} of {r['images']} labels flipped; precision = recall among the top {r['flipped']}:")
print(f"  confident learning, {r['folds']}-fold out-of-fold ({r['epochs']} epochs a fold, {cl['seconds']:.0f} s): "
      f"{cl['precision_at_n']:.3f} by self-confidence, {m['precision_at_n']:.3f} by margin ({cl['suspects']} suspects)")
print(f"  its {cl['suspects']} suspects: precision {cl['suspects_precision']:.3f}, recall {cl['suspects_recall']:.3f}")
print(f"  top losses of one model trained on all images ({tl['seconds']:.0f} s): {tl['precision_at_n']:.3f}")
o = r["outliers"]
print(f"  outliers: {o['foreign_flagged']} of the {o['foreign']} planted foreign images, and {o['others_flagged']} others")
PY
