#!/usr/bin/env bash
# predict over a million files: 1,000 folders of 1,000 small PNGs (Fashion-MNIST samples,
# copied by bench/make_files.py; on tmpfs by default), predicted by a model bundle with --csv --skip-done. The run is
# killed with SIGKILL partway, then continued with the same command; at the end the CSV must
# hold every file exactly once. Prints the throughput, the resident memory sampled every
# 5 seconds (it must stay flat) and the peak of each process.
#
# usage: bench/million_files.sh MODEL [files] [kill_after_s] [dir]
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:?usage: bench/million_files.sh MODEL [files] [kill_after_s] [dir]}
files=${2:-1000000}; kill_after=${3:-60}; dir=${4:-/dev/shm/imgclass-million}
out=bench/out/million
mkdir -p "$out"
rm -f "$out/predictions.csv"
cargo build --release --quiet -p imgclass-cli
bin=target/release/imgclass

echo "=== writing $files files into $dir"
start=$SECONDS
python3 bench/make_files.py "$dir" "$files"
echo "written in $((SECONDS - start)) s"

# Runs predict in the background, sampling its resident memory every 5 s into $out/rss.txt.
predict() {
    "$bin" predict "$model" "$dir" --csv --skip-done "$out/predictions.csv" 2>>"$out/stderr.txt" &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
        [ -n "$rss" ] && echo "$((SECONDS - t0)) s: rss $((rss / 1024)) MB, peak $((hwm / 1024)) MB, rows $(($(wc -l < "$out/predictions.csv") - 1))" | tee -a "$out/rss.txt"
        sleep 5
    done
    wait "$pid" || true
}
: > "$out/rss.txt"; : > "$out/stderr.txt"
t0=$SECONDS
echo "=== predict, killed with SIGKILL after $kill_after s"
( sleep "$kill_after"; pkill -KILL -f "imgclass predict $model $dir" ) &
predict
first=$((SECONDS - t0))
rows_at_kill=$(($(wc -l < "$out/predictions.csv") - 1))
echo "killed after $first s with $rows_at_kill rows; last line: $(tail -c 80 "$out/predictions.csv" | tail -1)"
echo "=== the same command again: continues"
t1=$SECONDS
predict
second=$((SECONDS - t1))
python3 - "$out/predictions.csv" "$files" "$first" "$second" "$rows_at_kill" <<'PY'
import csv, sys
path, n, first, second, at_kill = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
seen = set()
with open(path, newline="") as f:
    reader = csv.reader(f)
    next(reader)
    rows = 0
    for row in reader:
        rows += 1
        seen.add(row[0])
print(f"{rows} rows, {len(seen)} distinct files (expected {n}); killed at {at_kill} rows after {first} s, "
      f"continued in {second} s: {n / (first + second):.0f} files/s overall")
sys.exit(0 if rows == len(seen) == n else 1)
PY
