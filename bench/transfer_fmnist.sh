#!/usr/bin/env bash
# Issue 3's comparison: on 2,000 Fashion-MNIST training images (200 per class, seeded; 50 more
# per class for validation) and the full 10k test set, fine-tuned pretrained EfficientNet-Lite0
# against the default CNN trained from scratch with the same wall-clock budget (the fine-tune's
# training + validation time). The fine-tune is imgclass's (--fine-tune: a linear probe, then
# unfrozen epochs); fastai's (--fine-tune E --freeze-epochs 1) and the probe alone run beside it.
# Also times frozen epochs with and without feature caching.
#
# usage: bench/transfer_fmnist.sh [SIZE] [FINE_TUNE_EPOCHS]    (defaults 128 and 3)
# Needs Debian's dataset-fashion-mnist and `imgclass weights fetch efficientnet_lite0`.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-128}; ft=${2:-3}
bin=target/release/imgclass
out=runs/transfer
mkdir -p $out
python3 bench/fmnist_subset.py /usr/share/datasets/fashion-mnist $out/data 250 0
train() { local name=$1; shift; $bin train $out/data --out $out/$name --overwrite "$@" > $out/$name.log 2>&1 || { cat $out/$name.log; exit 1; }; }
train effnet --arch efficientnet_lite0 --pretrained --fine-tune "$ft" --size "$size"
train effnet-fastai --arch efficientnet_lite0 --pretrained --fine-tune "$ft" --freeze-epochs 1 --size "$size"
train effnet-probe --arch efficientnet_lite0 --pretrained --probe --epochs 0 --size "$size"
train effnet-head --arch efficientnet_lite0 --pretrained --epochs 3 --size "$size"
train effnet-frozen-uncached --arch efficientnet_lite0 --pretrained --freeze-epochs 1 --epochs 0 --no-cache-features --size "$size"
# The CNN's budget: the fine-tune's seconds of training and validation, over the CNN's epoch time.
train cnn-probe --epochs 1
epochs=$(python3 - $out <<'PY'
import json, sys
sec = lambda run: sum(m["seconds"] for m in json.load(open(f"{sys.argv[1]}/{run}/metrics.json")))
print(max(1, int(sec("effnet") / sec("cnn-probe"))))
PY
)
train cnn --epochs "$epochs"
python3 - $out "$size" <<'PY'
import json, sys
out, size = sys.argv[1], sys.argv[2]
def run(name):
    r = json.load(open(f"{out}/{name}/report.json"))
    return r, sum(m["seconds"] for m in r["history"])
for name, what in [
    ("effnet-probe", f"EfficientNet-Lite0 pretrained, linear probe at {size} px"),
    ("effnet-fastai", f"EfficientNet-Lite0 pretrained, fastai's fine_tune at {size} px"),
    ("effnet", f"EfficientNet-Lite0 pretrained, imgclass's fine_tune at {size} px"),
    ("cnn", "default cnn from scratch, 28 px"),
]:
    r, s = run(name)
    print(f"{what}: {len(r['history'])} epochs, {s:.0f} s training+validation, "
          f"valid {r['final_metrics']['accuracy']:.4f}, test {r['test_metrics']['accuracy']:.4f} on {r['test_metrics']['n_images']}")
eff, _ = run("effnet")
unc, _ = run("effnet-frozen-uncached")
fastai, _ = run("effnet-fastai")
frozen = [m["seconds"] for m in fastai["history"] if m["frozen"]]
unfrozen = [m["seconds"] for m in eff["history"] if not m["frozen"]]
print(f"seconds per epoch at {size} px: frozen with cached features {frozen[0]:.2f} (the body's one pass before "
      f"it not counted), frozen without caching {unc['history'][0]['seconds']:.0f}, unfrozen "
      f"{sum(unfrozen) / len(unfrozen):.0f}")
head, _ = run("effnet-head")
later = [m["seconds"] for m in head["history"][1:]]
print(f"head only (--pretrained --epochs 3, cached): first epoch {head['history'][0]['seconds']:.0f} s, later epochs "
      f"{sum(later) / len(later):.2f} s ({unc['history'][0]['seconds'] / (sum(later) / len(later)):.0f}x faster than uncached); "
      f"valid {head['final_metrics']['accuracy']:.4f}, test {head['test_metrics']['accuracy']:.4f}")
PY
