#!/usr/bin/env python3
"""A bounded load test of `imgclass serve` on loopback (standard library only):

    python3 bench/serve_load.py IMGCLASS MODEL OUT [REQUESTS] [CONCURRENCY]

Starts `IMGCLASS serve --model MODEL --port 0 --root OUT/root`, sends REQUESTS (default 2,000)
`POST /api/predict` requests, CONCURRENCY (default 32) at a time, each with one of the bundled
Fashion-MNIST sample images, and prints the errors, p50 / p99 / max latency, the throughput and
the server's peak resident memory (VmHWM). Then it imports 2,000 Fashion-MNIST training images
into a project through the API, starts training the default CNN there, and sends the same load
while the model trains (reporting the step training reached meanwhile); then stops the run. Writes OUT/serve_load.json.
"""
import gzip, io, json, os, re, struct, subprocess, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

binary, model, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
requests = int(sys.argv[4]) if len(sys.argv) > 4 else 2000
concurrency = int(sys.argv[5]) if len(sys.argv) > 5 else 32
out.mkdir(parents=True, exist_ok=True)
samples = sorted(Path("data/fashion-samples").glob("*/*.png"))
images = [(p.name, p.read_bytes()) for p in samples]

server = subprocess.Popen([binary, "serve", "--model", model, "--port", "0", "--root", str(out / "root")],
                          stdout=subprocess.PIPE, text=True)
url = server.stdout.readline().strip().rstrip("/")
token = next(l.split()[-1] for l in iter(server.stdout.readline, "") if "x-imgclass-token" in l)


def multipart(files):
    boundary = "loadtest7d1e"
    body = io.BytesIO()
    for field, name, data in files:
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                   "Content-Type: application/octet-stream\r\n\r\n".encode())
        body.write(data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def call(method, path, data=None, content_type=None):
    req = urllib.request.Request(url + path, data=data, method=method, headers={"x-imgclass-token": token})
    if content_type:
        req.add_header("content-type", content_type)
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, r.read()


def one(i):
    name, data = images[i % len(images)]
    body, ctype = multipart([("file", name, data)])
    start = time.perf_counter()
    try:
        status, text = call("POST", "/api/predict", body, ctype)
        ok = status == 200 and b'"top"' in text
    except Exception:
        ok = False
    return time.perf_counter() - start, ok


def peak_rss_mb():
    status = Path(f"/proc/{server.pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024


def load(label):
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(requests)))
    wall = time.perf_counter() - start
    lat = sorted(r[0] * 1000 for r in results)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    row = {"phase": label, "requests": requests, "concurrency": concurrency,
           "errors": sum(not r[1] for r in results), "p50_ms": round(q(0.50), 1), "p99_ms": round(q(0.99), 1),
           "max_ms": round(lat[-1], 1), "per_second": round(requests / wall, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(json.dumps(row), flush=True)
    return row


def fashion_pngs(n):
    """The first n Fashion-MNIST training images as PNG files named by class."""
    from PIL import Image
    src = Path("/usr/share/datasets/fashion-mnist")
    pixels = gzip.open(src / "train-images-idx3-ubyte.gz").read()
    labels = gzip.open(src / "train-labels-idx1-ubyte.gz").read()
    for i in range(n):
        img = Image.frombytes("L", (28, 28), pixels[16 + i * 784:16 + (i + 1) * 784])
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        yield f"fashion/class{labels[8 + i]}/{i:05d}.png", buf.getvalue()


try:
    rows = [load("predictions alone")]
    call("POST", "/api/projects", json.dumps({"name": "load"}).encode(), "application/json")
    files = list(fashion_pngs(2000))
    for i in range(0, len(files), 500):
        body, ctype = multipart([("files", n, d) for n, d in files[i:i + 500]])
        call("POST", "/api/projects/load/import", body, ctype)
    call("POST", "/api/projects/load/train", json.dumps({"epochs": 50}).encode(), "application/json")
    while b'"running"' not in call("GET", "/api/projects/load/job")[1]:
        time.sleep(0.2)
    rows.append(load("predictions while the default CNN trains"))
    _, view = call("GET", "/api/projects/load/job")
    events = json.loads(view)["events"]
    last = max((e for e in events if e["type"] == "batch"), key=lambda e: e["seq"], default=None)
    epoch = max((e["epoch"] for e in events if e["type"] == "epoch_start"), default=0)
    call("POST", "/api/projects/load/job/stop", b"{}", "application/json")
    rows[-1]["training_reached"] = f"epoch {epoch}, step {last['step'] if last else 0}"
    (out / "serve_load.json").write_text(json.dumps(rows, indent=1))
finally:
    server.terminate()
    server.wait()
