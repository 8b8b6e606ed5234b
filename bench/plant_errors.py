"""Plants label errors in a labels CSV of bench/task_data.py, and scores what `imgclass clean`
found (standard-library Python).

  plant TASK LABELS OUT FRACTION SEED   writes OUT: LABELS with FRACTION of its rows wrong
                                        (multi-label: one label dropped or one added; regression:
                                        the angle replaced by one at least 45 degrees away; count:
                                        2 or 3 more or fewer), and OUT.planted: their file names.
  score CLEAN_CSV PLANTED               prints one JSON line: the label errors clean.csv lists,
                                        how many were planted (precision), how many of the
                                        planted it lists (recall), and the precision among its
                                        first N rows (N = the number planted).
"""
import csv
import json
import random
import sys
from pathlib import Path


def wrong(task, cell, names, rng):
    """A wrong value for `cell`."""
    if task == "multi-label":
        on = cell.split()
        off = [n for n in names if n not in on]
        if on and (not off or rng.random() < 0.5):
            on.remove(rng.choice(on))
        else:
            on.append(rng.choice(off))
        return " ".join(sorted(on))
    if task == "regression":
        old = float(cell)
        while True:
            new = rng.uniform(-90, 90)
            if abs(new - old) >= 45:
                return f"{new:.2f}"
    old = int(cell)
    step = rng.choice([2, 3])
    return str(old + step if old < step or rng.random() < 0.5 else old - step)


def plant(task, labels, out, fraction, seed):
    with open(labels, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    names = sorted({n for r in body for n in r[1].split()}) if task == "multi-label" else []
    rng = random.Random(seed)
    chosen = rng.sample(range(len(body)), round(len(body) * fraction))
    for i in chosen:
        body[i][1] = wrong(task, body[i][1], names, rng)
    with open(out, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([header] + body)
    Path(str(out) + ".planted").write_text("".join(body[i][0] + "\n" for i in sorted(chosen)))
    print(f"planted {len(chosen)} wrong labels of {len(body)} in {out}")


def score(clean_csv, planted):
    planted = set(Path(planted).read_text().split())
    with open(clean_csv, newline="") as f:
        flagged = [Path(r["file"]).name for r in csv.DictReader(f) if r["issue"] == "label_error"]
    hits = sum(f in planted for f in flagged)
    first = sum(f in planted for f in flagged[: len(planted)])
    print(json.dumps({
        "planted": len(planted),
        "flagged": len(flagged),
        "precision": hits / max(len(flagged), 1),
        "recall": hits / max(len(planted), 1),
        "precision_at_n": first / max(len(planted), 1),
    }))


if __name__ == "__main__":
    if sys.argv[1:2] == ["plant"] and len(sys.argv) == 7:
        plant(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6]))
    elif sys.argv[1:2] == ["score"] and len(sys.argv) == 4:
        score(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
