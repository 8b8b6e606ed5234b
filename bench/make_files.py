"""Writes N small image files for prediction at scale: copies of data/fashion-samples' 30 PNGs,
1,000 to a folder (ROOT/0000/0000.png, ROOT/0000/0001.png, …). Files already there are kept,
so a second call costs only the listing.

    python3 bench/make_files.py ROOT N
"""
import os
import sys

root, n = sys.argv[1], int(sys.argv[2])
samples = []
for folder, _, names in sorted(os.walk("data/fashion-samples")):
    samples += [open(os.path.join(folder, f), "rb").read() for f in sorted(names) if f.endswith(".png")]
for i in range(n):
    folder = os.path.join(root, f"{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{i % 1000:04d}.png")
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(samples[i % len(samples)])
print(f"{n} files in {root}")
