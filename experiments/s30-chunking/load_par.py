import time, statistics
from concurrent.futures import ThreadPoolExecutor
import onnxruntime as ort
from openfoley.lite.runtime import LitePipeline, session_options
folder = LitePipeline.from_pretrained("builtin", threads=1).model.folder
c = sorted(folder.glob("condition.ort-*-cpu-*.onnx"))[0]; v = sorted(folder.glob("velocity.ort-*-cpu-*.onnx"))[0]
def mk(p, th): return ort.InferenceSession(str(p), session_options(th, ort.GraphOptimizationLevel.ORT_DISABLE_ALL), providers=["CPUExecutionProvider"])
seq, par, cc, vv = [], [], [], []
ex = ThreadPoolExecutor(2)
for _ in range(7):
    t0 = time.perf_counter(); mk(c, 2); cc.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); mk(v, 1); vv.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); mk(c, 2); mk(v, 1); seq.append(time.perf_counter() - t0)
    t0 = time.perf_counter(); a = ex.submit(mk, c, 2); b = ex.submit(mk, v, 1); a.result(); b.result(); par.append(time.perf_counter() - t0)
m = statistics.median
print(f"condition {m(cc):.3f}  velocity {m(vv):.3f}  sequential {m(seq):.3f}  two threads {m(par):.3f}")
