#!/usr/bin/env bash
# Runs every ```sh code block of a Markdown file, in order, in one bash session with -e, from
# the repository root. The first block's `cargo run … train` is the README's main job.
set -euo pipefail
file=${1:-README.md}
script=$(awk '/^```sh$/ {on=1; next} /^```$/ {on=0; next} on {print}' "$file")
[ -n "$script" ] || { echo "no sh blocks in $file" >&2; exit 1; }
# The test command runs separately in .ci/run; skip it here rather than running the suite twice.
script=$(printf '%s\n' "$script" | grep -v '^cargo test ')
printf '%s\n' "$script" | sed 's/^/+ /'
echo
bash -euo pipefail -c "$script"
