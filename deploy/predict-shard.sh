#!/bin/sh
# predict-shard MODEL DATA OUT_DIR: one task's share of a folder, for a scheduler's array of
# tasks. The task's index comes from the scheduler: SLURM_ARRAY_TASK_ID (a Slurm job array),
# JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or SHARD_INDEX (anything else, GNU parallel);
# the number of tasks from SHARDS, or Slurm's SLURM_ARRAY_TASK_COUNT. Writes
# OUT_DIR/shard-I-of-N.csv; a task that is killed and started again continues that file
# (--skip-done), so a retried task never predicts a file twice.
set -eu
model=${1:?usage: predict-shard MODEL DATA OUT_DIR}
data=${2:?usage: predict-shard MODEL DATA OUT_DIR}
out=${3:?usage: predict-shard MODEL DATA OUT_DIR}
index=${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-${SHARD_INDEX:?set SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX or SHARD_INDEX}}}
count=${SHARDS:-${SLURM_ARRAY_TASK_COUNT:?set SHARDS, the number of tasks}}
mkdir -p "$out"
exec imgclass predict "$model" "$data" --csv --shard "$index/$count" --skip-done "$out/shard-$index-of-$count.csv"
