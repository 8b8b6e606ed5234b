#!/usr/bin/env python3
"""Image-loading throughput of torchvision, as the twin of `imgclass data bench`: ImageFolder +
DataLoader (shuffled, W worker processes, last partial batch kept) over one full epoch, timed from
creating the iterator (worker start-up included) to receiving the last batch. Transforms follow
imgclass's fastai-style presizing: decode to RGB → squish-resize to PRESIZE×PRESIZE → with
--aug default, fastai's aug_transforms() defaults (flip, rotate ±10° with zoom 1–1.1, perspective
warp 0.2, brightness/contrast 0.2, each applied with p=0.75 except the flip's 0.5) → squish-resize to
SIZE×SIZE → tensor → ImageNet normalization. --aug none goes straight to SIZE×SIZE.

usage: python3 bench/torch_loader.py DATA [--size 224] [--presize 448] [--workers 2]
                                     [--batch-size 64] [--aug default|none] [--json]
"""
import argparse, json, time

import torch
from torchvision import datasets, transforms as T

# torch's thread settings are left at their defaults (no torch.set_num_threads): the DataLoader sets
# one thread in each worker itself, and the main process only collates batches.


def pipeline(size, presize, aug):
    resize = lambda s: T.Resize((s, s), interpolation=T.InterpolationMode.BILINEAR, antialias=True)
    steps = []  # ImageFolder's loader already decodes to RGB
    if aug == "default":
        steps += [
            resize(presize),
            T.RandomHorizontalFlip(0.5),
            T.RandomApply([T.RandomAffine(degrees=10, scale=(1.0, 1.1))], p=0.75),
            T.RandomPerspective(distortion_scale=0.2, p=0.75, fill=0),
            T.RandomApply([T.ColorJitter(brightness=0.2, contrast=0.2)], p=0.75),
        ]
    steps += [resize(size), T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
    return T.Compose(steps)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("data")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--presize", type=int, default=448)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--aug", choices=["default", "none"], default="default")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    data = datasets.ImageFolder(a.data, transform=pipeline(a.size, a.presize, a.aug))
    loader = torch.utils.data.DataLoader(data, batch_size=a.batch_size, shuffle=True, num_workers=a.workers,
                                         drop_last=False, persistent_workers=False)
    start, images = time.perf_counter(), 0
    for x, _ in loader:
        images += x.shape[0]
    seconds = time.perf_counter() - start
    r = {"images": images, "seconds": round(seconds, 4), "images_per_second": round(images / seconds, 2),
         "workers": a.workers, "aug": a.aug}
    print(json.dumps(r) if a.json else f"torchvision: {images} images in {seconds:.2f} s, "
          f"{images / seconds:.1f} images/s ({a.workers} workers, aug {a.aug})")


if __name__ == "__main__":
    main()
