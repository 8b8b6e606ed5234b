#!/usr/bin/env python3
"""Screenshots of `imgclass serve` at work, for the README and issue notes (Playwright for
Python with Debian's chromium, as crates/imgclass-serve/tests/browser/drive.py uses):

    python3 bench/serve_screens.py IMGCLASS OUT [PER_CLASS]

Writes OUT/data (PER_CLASS Fashion-MNIST training images per class, default 60, as PNGs in class
folders, with 2% of them moved to a wrong class), starts `IMGCLASS serve --root OUT/root`,
and in the page: imports the folder, trains the default CNN (8 epochs, light augmentation) and
shoots it mid-run (teach.png), trains a logistic regression, tests an image with Grad-CAM
(test.png), shows both runs side by side (runs.png), finds suspects (clean.png) and opens the
Export tab (export.png).
"""
import gzip, random, subprocess, sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright, expect

binary, out = sys.argv[1], Path(sys.argv[2])
per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 60
names = ["T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot"]
src = Path("/usr/share/datasets/fashion-mnist")
pixels = gzip.open(src / "train-images-idx3-ubyte.gz").read()
labels = gzip.open(src / "train-labels-idx1-ubyte.gz").read()[8:]
rng = random.Random(0)
count = {c: 0 for c in range(10)}
data = out / "data"
for i, label in enumerate(labels):
    if count[label] >= per_class:
        continue
    count[label] += 1
    shown = label if rng.random() > 0.02 else rng.choice([c for c in range(10) if c != label])
    folder = data / names[shown]
    folder.mkdir(parents=True, exist_ok=True)
    Image.frombytes("L", (28, 28), pixels[16 + i * 784:16 + (i + 1) * 784]).save(folder / f"{i:05d}.png")
    if all(v >= per_class for v in count.values()):
        break

server = subprocess.Popen([binary, "serve", "--port", "0", "--root", str(out / "root")], stdout=subprocess.PIPE, text=True)
url = server.stdout.readline().strip()
try:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.fill("#new-project-name", "fashion")
        page.click("#new-project button")
        page.set_input_files("#import-folder", str(data))
        expect(page.locator("#classes .card")).to_have_count(10, timeout=120_000)
        page.click("#advanced summary")
        page.fill("#epochs", "8")
        page.select_option("#aug", "light")
        page.click("#train")
        expect(page.locator("#epochs-table tbody tr")).to_have_count(3, timeout=300_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out / "teach.png"))
        expect(page.locator("#train-status")).to_contain_text("done", timeout=600_000)
        page.select_option("#arch", "logreg")
        page.click("#train")
        expect(page.locator("#train-status")).to_contain_text("exp2: done", timeout=600_000)

        page.click("nav button[data-tab=test]")
        page.select_option("#test-model", "fashion|exp1")
        first = sorted((data / "Ankle_boot").iterdir())[0]
        page.set_input_files("#test-files", str(first))
        expect(page.locator("#bars .bar")).to_have_count(3)
        page.click("#cam-toggle")
        expect(page.locator("#cam-note")).to_contain_text("Grad-CAM of")
        page.screenshot(path=str(out / "test.png"))

        page.click("nav button[data-tab=runs]")
        page.check("#runs-table input[value=exp1]")
        page.check("#runs-table input[value=exp2]")
        expect(page.locator("#run-details .run")).to_have_count(2)
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "runs.png"), full_page=True)

        page.click("nav button[data-tab=clean]")
        page.fill("#clean-folds", "3")
        page.click("#clean-start")
        expect(page.locator("#clean-status")).to_contain_text("Found", timeout=900_000)
        page.locator("#suspects .suspect select").first.select_option(index=1)
        page.screenshot(path=str(out / "clean.png"))

        page.click("nav button[data-tab=export]")
        expect(page.locator("#exports .export")).to_have_count(2)
        page.screenshot(path=str(out / "export.png"))
        browser.close()
finally:
    server.terminate()
    server.wait()
print(f"screenshots in {out}")
