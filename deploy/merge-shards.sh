#!/bin/sh
# merge-shards OUT_DIR > predictions.csv: the shards' CSVs as one, the header once, the rows
# sorted by file (as one unsharded run writes them, for one folder of image files). Refuses
# shards whose headers differ (another model or other options).
set -eu
dir=${1:?usage: merge-shards OUT_DIR > predictions.csv}
set -- "$dir"/shard-*-of-*.csv
[ -e "$1" ] || { echo "merge-shards: no shard-*-of-*.csv in $dir" >&2; exit 1; }
header=$(head -n 1 "$1")
for f in "$@"; do
    [ "$(head -n 1 "$f")" = "$header" ] || { echo "merge-shards: $f has another header" >&2; exit 1; }
done
printf '%s\n' "$header"
tail -q -n +2 "$@" | LC_ALL=C sort -t, -k1,1
