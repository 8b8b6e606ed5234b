"""Runs the ONNX files imgclass exported with onnxruntime and checks them with the ONNX checker.

Usage: python3 check_onnx.py CASES_DIR

CASES_DIR holds what `export::tests::write_cases` wrote: `cases.json` and, per case NAME,
`NAME.onnx`, `NAME.input.f32` (the graph's input, little-endian float32, shape from
cases.json), `NAME.logits.f32` and `NAME.probabilities.f32` (imgclass's own outputs on it).
Prints one line per case, `NAME TASK spread S max|Δp| D max|Δlogits| L ok` (or `FAIL`), and
exits 1 when a probability differs by more than 1e-4 (a regression's or count's value by more
than 1e-4 of itself, when beyond 1) or the checker rejects a file.
"""

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-4


def main(folder):
    cases = json.load(open(os.path.join(folder, "cases.json")))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    failed = 0
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}")
    for case in cases:
        name = case["name"]
        path = os.path.join(folder, name + ".onnx")
        onnx.checker.check_model(onnx.load(path), full_check=True)
        read = lambda part: np.fromfile(os.path.join(folder, f"{name}.{part}.f32"), dtype="<f4")
        x = read("input").reshape(case["input"])
        want_p = read("probabilities").reshape(len(x), case["outputs"])
        want_z = read("logits").reshape(len(x), case["outputs"])
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        got_p, got_z = session.run(["probabilities", "logits"], {"input": x})
        # Numbers are compared relative to their size beyond 1 (a count's rate can be 10^4).
        scale = np.maximum(1.0, np.abs(want_p)) if case["task"] in ("regression", "count") else 1.0
        dp = float((np.abs(got_p - want_p) / scale).max())
        dz = float(np.abs(got_z - want_z).max())
        ok = dp <= TOLERANCE and got_p.shape == want_p.shape
        failed += not ok
        spread = float(want_p.max() - want_p.min())
        print(f"{name} {case['task']} spread {spread:.3g} max|Δp| {dp:.2e} max|Δlogits| {dz:.2e} {'ok' if ok else 'FAIL'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1])
