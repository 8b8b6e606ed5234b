#!/usr/bin/env python3
"""Writes N synthetic 1024×768 JPEG "photos" (quality 90) over class folders OUT/class0, OUT/class1, ...
for timing image loading (bench/loader_throughput.sh). Each image is a smooth random gradient with a
per-class colour tendency, a few blurred ellipses and rectangles, fine texture and mild gaussian noise,
so that it compresses like a real photo (~150–350 KB). Image i goes to class i % CLASSES and depends
only on (SEED, i); files that already exist at 1024×768 are kept, so reruns are fast.

usage: python3 bench/make_photos.py OUT N [--classes 2] [--seed 0]
Needs numpy and pillow.
"""
import argparse, colorsys, time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

W, H = 1024, 768


def smooth(rng, w, h, channels, amplitude):
    """Random field on a w×h grid, upscaled bicubically to W×H: a gradient (small grid) or texture."""
    small = rng.normal(128, amplitude, (h, w, channels)).clip(0, 255).astype(np.uint8)
    mode = "RGB" if channels == 3 else "L"
    big = Image.fromarray(small.squeeze(), mode).resize((W, H), Image.BICUBIC)
    return np.asarray(big, np.float32).reshape(H, W, channels) - 128


def photo(rng, cls, classes):
    tint = np.array(colorsys.hsv_to_rgb(cls / classes, 0.6, 1.0), np.float32) * 255
    base = 0.5 * tint + 0.5 * rng.uniform(40, 215, 3)
    img = base + smooth(rng, 4, 3, 3, 60)
    layer = Image.fromarray(img.clip(0, 255).astype(np.uint8))
    for _ in range(rng.integers(4, 10)):
        mask = Image.new("L", (W, H), 0)
        x0, y0 = rng.integers(-200, W), rng.integers(-200, H)
        box = (x0, y0, x0 + rng.integers(60, 500), y0 + rng.integers(60, 400))
        draw = ImageDraw.Draw(mask)
        (draw.ellipse if rng.random() < 0.7 else draw.rectangle)(box, fill=int(rng.integers(120, 256)))
        fill = tuple(int(v) for v in 0.4 * tint + 0.6 * rng.uniform(0, 255, 3))
        layer.paste(fill, (0, 0, W, H), mask.filter(ImageFilter.GaussianBlur(float(rng.uniform(1, 12)))))
    img = np.asarray(layer, np.float32)
    img += smooth(rng, W // 4, H // 4, 1, rng.uniform(8, 24))  # fine grey texture, like foliage or fabric
    img += rng.normal(0, rng.uniform(2, 4), (H, W, 1))  # sensor noise
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("n", type=int)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    start, written, total = time.perf_counter(), 0, 0
    for i in range(a.n):
        cls = i % a.classes
        path = a.out / f"class{cls}" / f"img{i:05d}.jpg"
        if not (path.exists() and Image.open(path).size == (W, H)):
            path.parent.mkdir(parents=True, exist_ok=True)
            photo(np.random.default_rng([a.seed, i]), cls, a.classes).save(path, quality=90)
            written += 1
        total += path.stat().st_size
    print(f"{a.n} photos in {a.out} ({written} written in {time.perf_counter() - start:.1f} s), "
          f"{total / 1e6:.1f} MB on disk, {total / a.n / 1e3:.0f} KB each, "
          f"{a.n * W * H * 3 / 1e9:.2f} GB decoded")


if __name__ == "__main__":
    main()
