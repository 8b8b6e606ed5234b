#!/usr/bin/env bash
# The parity table of `imgclass export`: every architecture (random weights, batch norms with
# random running statistics, 20 images each) and every task, exported to ONNX and run by
# onnxruntime (with `onnx.checker.check_model(full_check=True)`) and by tract, each output
# compared with imgclass's own. The onnxruntime half is the library test CI runs; tract lives
# in tools/tract-check, a workspace of its own (its first build takes about 25 minutes on 2
# cores), so CI does not build it.
#
# usage: bench/onnx_parity.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cases=$PWD/bench/out/onnx-cases
rm -rf "$cases" && mkdir -p "$cases"
IMGCLASS_ONNX_CASES="$cases" cargo test --release --quiet -p imgclass --lib \
    export::tests::the_exported_graphs_compute_imgclass_answers_in_onnxruntime -- --nocapture 2>&1 |
    grep -E "^(onnxruntime|onnx |[a-z_0-9]+ (single|multi|regression|count))" | tee "$cases/onnxruntime.txt"
cargo run --release --quiet --manifest-path tools/tract-check/Cargo.toml -- "$cases" | tee "$cases/tract.txt"
python3 - "$cases" <<'PY'
import sys
folder = sys.argv[1]
def table(name):
    rows = {}
    for line in open(f"{folder}/{name}.txt"):
        w = line.split()
        if w and w[-1] in ("ok", "FAIL") and "max|Δp|" in w:
            rows[w[0]] = (w[w.index("max|Δp|") + 1], w[w.index("max|Δlogits|") + 1], w[-1])
    return rows
ort, tract = table("onnxruntime"), table("tract")
print("| case | onnxruntime max abs Δ probabilities (logits) | tract max abs Δ probabilities (logits) |")
print("|---|---|---|")
for case in ort:
    o, t = ort[case], tract.get(case, ("-", "-", "missing"))
    print(f"| {case} | {o[0]} ({o[1]}) {o[2]} | {t[0]} ({t[1]}) {t[2]} |")
PY
