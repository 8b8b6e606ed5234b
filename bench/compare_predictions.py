"""Compares two prediction CSVs (`imgclass predict --csv`, `deploy/onnx_predict.py`, merged
shards): the same files, the same labels, numbers within a tolerance.

    python3 bench/compare_predictions.py A.csv B.csv [--tolerance 1e-4] [--min-agree 1.0] [--first N]

Rows are matched by their `file` cell, so order does not matter. A row agrees when its text
cells are equal and its numbers differ by at most the tolerance (only its first N cells after
the file with --first N: `--first 2` compares the top label and its probability). Prints the count, the largest
difference and the share of rows that agree; exits 1 when the files name different images, a
file appears twice, or fewer rows agree than --min-agree (default: all of them).
"""
import argparse
import csv
import sys


def rows(path):
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        out = {}
        for row in reader:
            if row[0] in out:
                sys.exit(f"{path}: {row[0]} appears twice")
            out[row[0]] = row[1:]
        return header, out


def number(cell):
    try:
        return float(cell)
    except ValueError:
        return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("--min-agree", type=float, default=1.0)
    p.add_argument("--first", type=int, default=None)
    args = p.parse_args()
    (ha, a), (hb, b) = rows(args.a), rows(args.b)
    if ha != hb:
        sys.exit(f"different columns: {ha} vs {hb}")
    if a.keys() != b.keys():
        only = sorted(a.keys() ^ b.keys())
        sys.exit(f"{len(only)} files are in one file only, e.g. {only[:3]}")
    worst, agree = 0.0, 0
    for f, ra in a.items():
        rb = b[f][: args.first]
        ra = ra[: args.first]
        ok = len(ra) == len(rb)
        for x, y in zip(ra, rb):
            nx, ny = number(x), number(y)
            if nx is not None and ny is not None:
                worst = max(worst, abs(nx - ny))
                ok &= abs(nx - ny) <= args.tolerance
            else:
                ok &= x == y
        agree += ok
    share = agree / max(len(a), 1)
    print(f"{len(a)} files, largest difference {worst:.2e}, {agree} rows agree ({share:.1%}) within {args.tolerance:g}")
    sys.exit(0 if share >= args.min_agree else 1)


main()
