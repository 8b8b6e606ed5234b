#!/usr/bin/env python3
"""Builds the datasets of issue 25 — one per task beyond single-label — from Fashion-MNIST,
as PNG files with a labels CSV, so `imgclass train OUT --labels OUT/labels.csv` trains them:

    python3 bench/task_data.py TASK FASHION_DIR OUT [N] [SEED]

TASK is one of
  multi-label  two or three items of different classes on a 56×56 canvas (one per quadrant);
               labels.csv: `file,labels` with the items' classes split by spaces.
  regression   one item rotated by a random angle in [-90, 90) degrees on a 28×28 canvas;
               labels.csv: `file,angle`.
  count        0 to 6 small bright squares scattered on a 48×48 canvas, with a Fashion-MNIST
               item faint behind them as clutter; labels.csv: `file,count`.
  two-class    the Sneaker and Ankle boot images alone, 28×28, in two class folders (ROC AUC).

FASHION_DIR holds Debian's dataset-fashion-mnist files (/usr/share/datasets/fashion-mnist).
Images come from its training split, so the official test split stays unseen. N images
(default 3000), seed default 0. Standard library only (PNG written with zlib).
"""
import gzip, math, random, struct, sys, zlib
from pathlib import Path

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def png(path, pixels, w, h):
    """Writes 8-bit greyscale `pixels` (row-major bytes) as a PNG."""
    raw = b"".join(b"\0" + bytes(pixels[y * w:(y + 1) * w]) for y in range(h))
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def fashion(src):
    images = gzip.open(Path(src) / "train-images-idx3-ubyte.gz").read()
    labels = gzip.open(Path(src) / "train-labels-idx1-ubyte.gz").read()[8:]
    n, h, w = struct.unpack(">III", images[4:16])
    item = lambda i: images[16 + i * h * w:16 + (i + 1) * h * w]
    return item, labels, n


def rotate(item, degrees):
    """`item` (28×28) rotated about its centre, nearest neighbour, black outside."""
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    out = bytearray(28 * 28)
    for y in range(28):
        for x in range(28):
            dx, dy = x - 13.5, y - 13.5
            sx, sy = round(c * dx + s * dy + 13.5), round(-s * dx + c * dy + 13.5)
            if 0 <= sx < 28 and 0 <= sy < 28:
                out[y * 28 + x] = item[sy * 28 + sx]
    return out


def main():
    task, src, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 0)
    item, labels, total = fashion(src)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    if task == "two-class":
        wanted = {7: "Sneaker", 9: "Ankle boot"}
        picks = [i for i in range(total) if labels[i] in wanted][:n]
        for i in picks:
            folder = out / wanted[labels[i]].replace(" ", "_")
            folder.mkdir(exist_ok=True)
            png(folder / f"{i:05}.png", item(i), 28, 28)
        return
    for k in range(n):
        name = f"{k:05}.png"
        if task == "multi-label":
            picks = rng.sample(range(10), rng.choice([2, 3]))
            cells = rng.sample(range(4), len(picks))
            canvas = bytearray(56 * 56)
            for cls, cell in zip(picks, cells):
                i = rng.choice(by_class(labels, cls))
                ox, oy = 28 * (cell % 2), 28 * (cell // 2)
                src_px = item(i)
                for y in range(28):
                    canvas[(oy + y) * 56 + ox:(oy + y) * 56 + ox + 28] = src_px[y * 28:(y + 1) * 28]
            png(out / name, canvas, 56, 56)
            rows.append((name, " ".join(sorted(CLASSES[c].replace(" ", "_") for c in picks))))
        elif task == "regression":
            angle = rng.uniform(-90, 90)
            png(out / name, rotate(item(rng.randrange(total)), angle), 28, 28)
            rows.append((name, f"{angle:.2f}"))
        elif task == "count":
            count = rng.randrange(7)
            clutter = item(rng.randrange(total))
            canvas = bytearray(56 * 56)
            for y in range(56):
                for x in range(56):
                    canvas[y * 56 + x] = clutter[(y // 2) * 28 + x // 2] // 3
            placed = []
            while len(placed) < count:
                side = rng.choice([3, 4, 5])
                x, y = rng.randrange(56 - side), rng.randrange(56 - side)
                if all(abs(x - px) > 7 or abs(y - py) > 7 for px, py in placed):
                    placed.append((x, y))
                    for yy in range(y, y + side):
                        canvas[yy * 56 + x:yy * 56 + x + side] = bytes([255] * side)
            png(out / name, canvas, 56, 56)
            rows.append((name, str(count)))
        else:
            sys.exit(f"unknown task {task!r}: multi-label, regression, count or two-class")
    header = {"multi-label": "file,labels", "regression": "file,angle", "count": "file,count"}[task]
    (out / "labels.csv").write_text(header + "\n" + "".join(f"{a},{b}\n" for a, b in rows))


_BY_CLASS = {}


def by_class(labels, cls):
    if cls not in _BY_CLASS:
        _BY_CLASS[cls] = [i for i, l in enumerate(labels) if l == cls]
    return _BY_CLASS[cls]


if __name__ == "__main__":
    main()
