"""Writes 3 images per class from the Fashion-MNIST *training* split (images 0.. in file order)
as 28×28 grey PNGs in one folder per class. These are never in the bundled sample (the test
split), so a model trained on the bundled data can be evaluated and tried on them.

usage: python3 make_samples.py /usr/share/datasets/fashion-mnist
"""
import gzip, os, struct, sys, zlib

CLASSES = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
src = sys.argv[1]
images = gzip.open(os.path.join(src, "train-images-idx3-ubyte.gz")).read()[16:]
labels = gzip.open(os.path.join(src, "train-labels-idx1-ubyte.gz")).read()[8:]


def png(path, pixels, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


count = [0] * 10
for i, label in enumerate(labels):
    if count[label] < 3:
        d = os.path.join(os.path.dirname(__file__) or ".", CLASSES[label])
        os.makedirs(d, exist_ok=True)
        png(os.path.join(d, f"train{i:05d}.png"), images[i * 784:(i + 1) * 784], 28, 28)
        count[label] += 1
    if min(count) == 3:
        break
