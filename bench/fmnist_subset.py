#!/usr/bin/env python3
"""Writes a seeded, class-balanced subset of Fashion-MNIST's training set as IDX files, with
the official test set beside it, for the transfer-learning measurement of issue 3:

    python3 bench/fmnist_subset.py /usr/share/datasets/fashion-mnist OUT [PER_CLASS] [SEED]

OUT gets train-images/labels (PER_CLASS images of each class, default 250, seed default 0) and
t10k-images/labels (copied) and classes.txt. `imgclass train OUT` then cuts 20% of each class for validation
(250 → 200 train + 50 valid per class: 2,000 training images) and tests on the full 10k.
Standard library only.
"""
import gzip, random, shutil, struct, sys
from pathlib import Path

src, out = Path(sys.argv[1]), Path(sys.argv[2])
per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 250
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
images = gzip.open(src / "train-images-idx3-ubyte.gz").read()
labels = gzip.open(src / "train-labels-idx1-ubyte.gz").read()
n, h, w = struct.unpack(">III", images[4:16])
by_class = {}
for i, label in enumerate(labels[8:]):
    by_class.setdefault(label, []).append(i)
rng = random.Random(seed)
chosen = sorted(i for c in sorted(by_class) for i in rng.sample(by_class[c], per_class))
out.mkdir(parents=True, exist_ok=True)
pixels = b"".join(images[16 + i * h * w:16 + (i + 1) * h * w] for i in chosen)
with gzip.open(out / "train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 2051, len(chosen), h, w) + pixels)
with gzip.open(out / "train-labels-idx1-ubyte.gz", "wb") as f:
    f.write(struct.pack(">II", 2049, len(chosen)) + bytes(labels[8 + i] for i in chosen))
for name in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]:
    shutil.copyfile(src / name, out / name)
(out / "classes.txt").write_text("\n".join(["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]) + "\n")
print(f"{out}: {len(chosen)} training images ({per_class} per class, seed {seed}) + the 10k test set")
