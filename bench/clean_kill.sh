#!/usr/bin/env bash
# Crash safety of `imgclass clean apply` and `clean undo` (issue 24, item 4): a dataset of
# ROWS files in class folders, a clean.csv that moves every one (half relabelled, half to the
# trash); `clean apply` is killed with SIGKILL at a random moment, then `clean undo` is
# killed at a random moment too, then `clean undo` runs to the end. Every file's SHA-256 must
# equal the original's. Repeated ROUNDS times.
#
#     bench/clean_kill.sh [ROWS] [ROUNDS]      # defaults: 20000 10
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-20000}
rounds=${2:-10}
bin=${IMGCLASS:-target/release/imgclass}  # IMGCLASS=path/to/imgclass measures another build
[ -x "$bin" ] || cargo build --release -p imgclass-cli
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

make_data() {
    rm -rf "$work/data" "$work/clean.csv" "$work/clean.json"
    mkdir -p "$work/data/a" "$work/data/b"
    python3 - "$work" "$rows" <<'PY'
import json, os, sys
work, rows = sys.argv[1], int(sys.argv[2])
root = os.path.join(work, "data")
with open(os.path.join(work, "clean.csv"), "w") as csv:
    csv.write("file,label,suggested,score,issue,other,action\n")
    for i in range(rows):
        path = os.path.join(root, "a", f"{i:06}.png")
        with open(path, "wb") as f:
            f.write(os.urandom(64))
        action = "relabel:b" if i % 2 == 0 else "delete"
        csv.write(f"{path},a,b,0.9,label_error,,{action}\n")
json.dump({"store": {"layout": "class_folders", "root": root}, "classes": ["a", "b"]},
          open(os.path.join(work, "clean.json"), "w"))
PY
    (cd "$work/data" && find . -type f ! -name '.imgclass-undo*' -print0 | sort -z | xargs -0 sha256sum) > "$work/before.sha"
}

make_data
start=$(date +%s%N)
"$bin" clean apply "$work/clean.csv" > /dev/null
whole_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "rows $rows: an uninterrupted apply takes $whole_ms ms"

failed=0
for round in $(seq 1 "$rounds"); do
    make_data
    apply_ms=$(( RANDOM % (whole_ms + 1) ))
    undo_ms=$(( RANDOM % (whole_ms + 1) ))
    "$bin" clean apply "$work/clean.csv" > /dev/null 2>&1 & pid=$!
    sleep "$(awk "BEGIN{print $apply_ms/1000}")"
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    moved=$( (find "$work/data/b" "$work/data/.imgclass-trash" -type f 2>/dev/null || true) | wc -l)
    "$bin" clean undo "$work/data" > /dev/null 2>&1 & pid=$!
    sleep "$(awk "BEGIN{print $undo_ms/1000}")"
    kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
    "$bin" clean undo "$work/data" > "$work/undo.out" 2>&1 || true
    (cd "$work/data" && find . -type f ! -name '.imgclass-undo*' -print0 | sort -z | xargs -0 sha256sum) > "$work/after.sha"
    if cmp -s "$work/before.sha" "$work/after.sha"; then verdict=identical; else verdict=DIFFERENT; failed=1; fi
    echo "round $round: apply killed at $apply_ms ms with $moved of $rows files moved, undo killed at $undo_ms ms; after undo: $(cat "$work/undo.out"); SHA-256 of every file: $verdict"
done
exit $failed
