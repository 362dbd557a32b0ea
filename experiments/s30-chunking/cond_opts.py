import sys, time, statistics
from pathlib import Path
import numpy as np, onnxruntime as ort
sys.path.insert(0, "benchmarks")
from condition_profile import feed_of
from openfoley.lite.runtime import LitePipeline
folder = LitePipeline.from_pretrained("builtin", threads=1).model.folder
path = sorted(folder.glob("condition.ort-*-cpu-*.onnx"))[0]
print(path)
def mk(intra, inter=1, parallel=False, spin=False):
    o = ort.SessionOptions(); o.intra_op_num_threads = intra; o.inter_op_num_threads = inter
    o.log_severity_level = 3
    o.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    o.add_session_config_entry("session.inter_op.allow_spinning", "1" if spin else "0")
    if parallel: o.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])
variants = {"intra1": mk(1), "intra2": mk(2), "intra2 spin": mk(2, spin=True),
            "intra1 inter2 par": mk(1, 2, True), "intra2 inter2 par": mk(2, 2, True)}
feed = feed_of(variants["intra1"])
ref = variants["intra1"].run(None, feed)
ts = {k: [] for k in variants}
for k, s in variants.items():
    out = s.run(None, feed); print(k, "bit-identical", all(np.array_equal(a, b) for a, b in zip(out, ref)))
for _ in range(8):
    for k, s in variants.items():
        t0 = time.perf_counter(); s.run(None, feed); ts[k].append(time.perf_counter() - t0)
for k in variants: print(f"{k:20s} {statistics.median(ts[k])*1e3:6.1f} ms")
