"""Runs a Kubernetes Indexed Job's pods here, one after the other, as Kubernetes would start
them: checks the Job is Indexed with as many completions as its SHARDS, then runs the
container's command once per index with JOB_COMPLETION_INDEX and the container's env set, the
volumes' mount paths mapped to local folders and the image's scripts (predict-shard,
merge-shards) to deploy/. Needs PyYAML.

    python3 bench/check_k8s_job.py JOB.yaml MODEL DATA OUT_DIR
"""
import os
import subprocess
import sys

import yaml

job_path, model, data, out = sys.argv[1:5]
job = yaml.safe_load(open(job_path))
spec = job["spec"]
assert job["kind"] == "Job" and spec["completionMode"] == "Indexed", "not an Indexed Job"
pod = spec["template"]["spec"]
(container,) = pod["containers"]
env = {e["name"]: e["value"] for e in container.get("env", [])}
assert int(env["SHARDS"]) == spec["completions"], "SHARDS must equal completions"
# Each volume's mount path stands for a local folder (the model's folder, the data, the output).
local = {"models": os.path.dirname(model) or ".", "data": data.rstrip("/"), "out": out}
mounts = {m["mountPath"]: local[m["name"]] for m in container["volumeMounts"]}
scripts = {"predict-shard": "deploy/predict-shard.sh", "merge-shards": "deploy/merge-shards.sh"}


def here(arg):
    for mount, path in mounts.items():
        if arg == mount or arg.startswith(mount + "/"):
            return path + arg[len(mount):]
    return scripts.get(arg, arg)


command = [here(a) for a in container["command"]]
for index in range(spec["completions"]):
    pod_env = dict(os.environ, **env, JOB_COMPLETION_INDEX=str(index))
    subprocess.run(command, env=pod_env, check=True)
print(f"{spec['completions']} pods of {job['metadata']['name']} ran: {' '.join(container['command'])}")
