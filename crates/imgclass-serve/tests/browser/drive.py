"""Drives imgclass serve's page in Debian's chromium (headless) with Playwright for Python.

Usage: drive.py URL SAMPLES_DIR SHOTS_DIR

Creates a project, imports SAMPLES_DIR (one folder per class) through the folder input,
trains one epoch, drops an image on the Test tab and checks that a predicted label appears and
its Grad-CAM overlay, predicts a frame of a fake webcam, ticks the run on the Runs tab, finds suspects on the Clean tab, relabels
one, applies and undoes it, and opens the Export tab; saves a screenshot of each step in
SHOTS_DIR. Exits non-zero, with the reason, at the first step that does not happen.
"""
import os
import sys

from playwright.sync_api import sync_playwright, expect

url, samples, shots = sys.argv[1], sys.argv[2], sys.argv[3]
classes = sorted(d for d in os.listdir(samples) if os.path.isdir(os.path.join(samples, d)))

with sync_playwright() as p:
    # A fake camera (chromium's test pattern) stands in for the webcam, permission granted.
    fake_camera = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", *fake_camera])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)

    page.fill("#new-project-name", "browser-test")
    page.click("#new-project button")
    expect(page.locator("#project")).to_have_value("browser-test")

    page.set_input_files("#import-folder", samples)
    expect(page.locator("#classes .card")).to_have_count(len(classes), timeout=60_000)
    expect(page.locator("#upload-status")).to_contain_text("added")
    page.screenshot(path=f"{shots}/1-teach.png", full_page=True)

    page.click("#advanced summary")
    page.fill("#epochs", "1")
    page.click("#train")
    expect(page.locator("#train-status")).to_contain_text("done", timeout=120_000)
    expect(page.locator("#epochs-table tbody tr")).to_have_count(1)
    page.screenshot(path=f"{shots}/2-trained.png", full_page=True)

    page.click("nav button[data-tab=test]")
    expect(page.locator("#test-model option").first).to_contain_text("browser-test / exp1")
    image = f"/api/projects/browser-test/classes/{classes[0]}/images/" + sorted(os.listdir(os.path.join(samples, classes[0])))[0]
    data = page.evaluate_handle(
        """async (url) => {
            const blob = await (await fetch(url)).blob();
            const dt = new DataTransfer();
            dt.items.add(new File([blob], "dropped.png", { type: blob.type }));
            return dt;
        }""",
        image,
    )
    page.dispatch_event("#test-drop", "drop", {"dataTransfer": data})
    expect(page.locator("#bars .bar")).to_have_count(3, timeout=30_000)
    label = page.locator("#bars .bar span").first.inner_text()
    if label not in [c.replace("_", " ") for c in classes] + classes:
        sys.exit(f"the predicted label {label!r} is not one of the classes {classes}")
    page.click("#cam-toggle")
    expect(page.locator("#cam-note")).to_contain_text("Grad-CAM of", timeout=30_000)
    if not page.locator("#single-image").get_attribute("src").startswith("data:image/png"):
        sys.exit("the Grad-CAM overlay did not replace the image")
    page.screenshot(path=f"{shots}/3-test.png", full_page=True)

    page.click("#webcam-toggle")
    page.wait_for_function("() => document.querySelector('#video').videoWidth > 0", timeout=30_000)
    page.click("#snap")
    expect(page.locator("#single-title")).to_have_text("webcam frame", timeout=30_000)
    expect(page.locator("#bars .bar")).to_have_count(3)
    page.click("#webcam-toggle")

    page.click("nav button[data-tab=runs]")
    page.check("#runs-table input[value=exp1]")
    expect(page.locator("#run-details .run")).to_have_count(1)
    expect(page.locator("#run-details .confusion")).to_have_count(1)
    page.screenshot(path=f"{shots}/4-runs.png", full_page=True)

    page.click("nav button[data-tab=clean]")
    page.fill("#clean-folds", "2")
    page.fill("#clean-epochs", "1")
    page.click("#clean-start")
    expect(page.locator("#clean-status")).to_contain_text("Found", timeout=120_000)
    expect(page.locator("#suspects .suspect").first).to_be_visible()
    first = page.locator("#suspects .suspect select").first
    first.select_option(index=1)
    page.screenshot(path=f"{shots}/5-clean.png", full_page=True)
    page.click("#clean-apply")
    expect(page.locator("#clean-status")).to_contain_text("Relabelled 1")
    page.click("#clean-undo")
    expect(page.locator("#clean-status")).to_contain_text("Reverted 1")

    page.click("nav button[data-tab=export]")
    expect(page.locator("#exports a[href$='model.onnx']")).to_have_count(1)
    page.screenshot(path=f"{shots}/6-export.png", full_page=True)

    if errors:
        sys.exit(f"the page threw: {errors}")
    print(f"browser: project made, {len(classes)} classes imported, trained, predicted {label!r} for a dropped image")
    browser.close()
