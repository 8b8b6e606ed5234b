"""PyTorch twin of imgclass's default CNN (crates/imgclass/src/models/cnn.rs, CnnConfig::new()),
trained the same way as `bench_train`: bundled Fashion-MNIST images normalized with the
training statistics, batches of 64 consecutive images, AdamW (lr 1e-3, weight decay 0.01),
cross-entropy, 2 threads. Prints one JSON line.

usage: python3 bench/torch_cnn.py [steps] [warmup] [batch_size]
"""
import gzip, json, os, resource, sys, time

import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(0)
steps, warmup, batch = (int(a) for a in (sys.argv[1:] + ["200", "10", "64"][len(sys.argv) - 1:])[:3])

root = os.path.join(os.path.dirname(__file__), "..", "crates", "imgclass", "data", "fashion-mnist-t10k")
raw = gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz")).read()[16:]
lbl = gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz")).read()[8:]
x_all = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, 1, 28, 28).float() / 255.0
y_all = torch.frombuffer(bytearray(lbl), dtype=torch.uint8).long()
x_all = (x_all - x_all.mean()) / x_all.std()


def block(cin, cout):
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.1),
    ]


model = nn.Sequential(
    *block(1, 32), *block(32, 64), nn.Flatten(),
    nn.Dropout(0.3), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
    nn.Dropout(0.3), nn.Linear(128, 10),
)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
loss_fn = nn.CrossEntropyLoss()
n = x_all.shape[0] * 8 // 10


def step(s):
    first = (s * batch) % (n - batch + 1)
    x, y = x_all[first:first + batch], y_all[first:first + batch]
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


model.train()
for s in range(warmup):
    step(s)
t = time.perf_counter()
for s in range(warmup, warmup + steps):
    step(s)
seconds = time.perf_counter() - t
params = sum(p.numel() for p in model.parameters())
print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "images_per_s": round(steps * batch / seconds, 1),
                  "steps": steps, "batch": batch, "params": params,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
