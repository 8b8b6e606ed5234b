"""Predict with a model exported by `imgclass export`, as `imgclass predict --csv` does, from the
ONNX file alone: its metadata says how to prepare an image. Needs onnxruntime, numpy, Pillow.

    python3 onnx_predict.py model.onnx IMAGE|FOLDER... > predictions.csv
"""
import csv
import json
import math
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
meta = {k: json.loads(v) for k, v in session.get_modelmeta().custom_metadata_map.items()}
h, w = meta["input_size"]


def fit(img):
    """The image brought to w × h as meta["resize"] says: squish, crop, pad, pad_reflect, crop_from."""
    mode, (iw, ih) = meta["resize"], img.size
    rounded = lambda x: int(math.floor(x + 0.5))
    if (iw, ih) == (w, h):
        return img
    if mode == "squish":
        return img.resize((w, h), Image.BILINEAR)
    if mode == "crop" or isinstance(mode, dict):  # {"crop_from": 256}: the short side to 256 first
        scale = max(w / iw, h / ih, mode["crop_from"] / min(iw, ih) if isinstance(mode, dict) else 0)
        sw, sh = max(rounded(iw * scale), w), max(rounded(ih * scale), h)
        x0, y0 = (sw - w) // 2, (sh - h) // 2
        return img.resize((sw, sh), Image.BILINEAR).crop((x0, y0, x0 + w, y0 + h))
    scale = min(w / iw, h / ih)  # pad: black borders; pad_reflect: the image mirrored
    sw, sh = min(max(rounded(iw * scale), 1), w), min(max(rounded(ih * scale), 1), h)
    x0, y0 = (w - sw) // 2, (h - sh) // 2
    small = np.asarray(img.resize((sw, sh), Image.BILINEAR))
    pads = ((y0, h - sh - y0), (x0, w - sw - x0), (0, 0))
    return Image.fromarray(np.pad(small, pads, mode="reflect" if mode == "pad_reflect" else "constant"))


def prepare(path):
    """One image as the graph's input: [channels, h, w] float32."""
    img = Image.open(path)
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        background = Image.new("RGB", img.size, tuple(meta["background"]))
        background.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        img = background
    rgb = np.asarray(fit(img.convert("RGB")), dtype=np.uint32).transpose(2, 0, 1)
    if meta["image_channels"] == 1:  # BT.601 luma, rounded as imgclass rounds it
        rgb = (299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500)[None] // 1000
    x = np.repeat(rgb, meta["channels"] // len(rgb), axis=0).astype(np.float32)
    if meta["input"] == "normalized":
        mean, std = (np.array(meta[k], np.float32)[:, None, None] for k in ("mean", "std"))
        x = x * (1 / (255 * std)) - mean / std
    return x


EXTENSIONS = {"jpg", "jpeg", "jpe", "png", "gif", "bmp", "webp", "tif", "tiff", "pnm", "pbm", "pgm", "ppm", "tga", "ico", "qoi"}


def images(paths):
    """Files as given; folders searched recursively for image files, in sorted order."""
    for p in paths:
        if os.path.isdir(p):
            for root, dirs, files in os.walk(p, followlinks=True):
                dirs.sort()
                names = (f for f in sorted(files) if f.rsplit(".", 1)[-1].lower() in EXTENSIONS)
                yield from (os.path.join(root, f) for f in names)
        else:
            yield p


files = list(images(sys.argv[2:]))
labels, task, out = meta["labels"], meta["task"], csv.writer(sys.stdout, lineterminator="\n")
k = min(3, len(labels))
if task == "single-label":
    out.writerow(["file"] + [f"{c}_{i}" for i in range(1, k + 1) for c in ("label", "probability")])
elif task == "multi-label":
    out.writerow(["file", "labels"] + labels)
else:
    out.writerow(["file"] + (labels + ["expected"] if task == "count" and len(labels) == 1 else labels))
for start in range(0, len(files), 32):
    batch = files[start : start + 32]
    (answers,) = session.run(["probabilities"], {"input": np.stack([prepare(f) for f in batch])})
    for f, p in zip(batch, answers):
        if task == "single-label":
            top = sorted(range(len(p)), key=lambda i: -p[i])[:k]
            out.writerow([f] + [x for i in top for x in (labels[i], f"{p[i]:.6f}")])
        elif task == "multi-label":
            said = sorted((i for i in range(len(p)) if p[i] >= meta["threshold"][i]), key=lambda i: -p[i])
            out.writerow([f, " ".join(labels[i] for i in said)] + [f"{v:.6f}" for v in p])
        elif task == "count" and len(p) == 1:
            out.writerow([f, max(0, math.floor(p[0] + 0.5)), f"{p[0]:.6f}"])
        else:
            out.writerow([f] + [f"{v:.6f}" for v in p])
