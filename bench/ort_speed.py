"""Inference speed of an exported ONNX file in onnxruntime (CPU, 2 threads), the peer of
`bench_train`'s BENCH_MODE=infer: the same network, batch and input size, random inputs.

    python3 bench/ort_speed.py MODEL.onnx BATCH STEPS WARMUP

Prints one JSON line: images/s and milliseconds per batch (the median of STEPS runs after
WARMUP), peak RSS.
"""
import json
import resource
import statistics
import sys
import time

import numpy as np
import onnxruntime as ort

path, batch, steps, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
options = ort.SessionOptions()
options.intra_op_num_threads = 2
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
shape = [batch] + session.get_inputs()[0].shape[1:]
x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
for _ in range(warmup):
    session.run(["probabilities"], {"input": x})
times = []
for _ in range(steps):
    t = time.perf_counter()
    session.run(["probabilities"], {"input": x})
    times.append(time.perf_counter() - t)
total = sum(times)
print(json.dumps({
    "impl": f"onnxruntime {ort.__version__}",
    "batch": batch,
    "size": shape[-1],
    "images_per_s": round(batch * steps / total, 1),
    "ms_per_batch_median": round(1000 * statistics.median(times), 2),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
}))
