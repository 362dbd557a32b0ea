import io, os, sys, time
import numpy as np, torch, onnxruntime as ort
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from search_bench import Cur, Chunk, R
def sess(mod, a, b, threads=1):
    f = io.BytesIO()
    torch.onnx.export(mod, (a, b), f, input_names=["a", "b"], output_names=["c"], dynamo=False)
    so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(f.getvalue(), so, providers=["CPUExecutionProvider"])
n = int(sys.argv[1]) if len(sys.argv) > 1 else 199
a = torch.rand(n, 64, 64); b = torch.rand(n, 64, 64)
feed = {"a": a.numpy(), "b": b.numpy()}
for threads in (1, 2):
    base = sess(Cur(), a, b, threads); ref = base.run(None, feed)[0]
    cands = [("current", base)] + [(f"chunk{c}", sess(Chunk(c), a, b, threads)) for c in (4, 8, 12, 16, 25)]
    times = {k: [] for k, _ in cands}
    for _ in range(12):
        for k, s in cands:
            t0 = time.perf_counter(); out = s.run(None, feed)[0]; times[k].append(time.perf_counter() - t0)
            assert out.shape == ref.shape
    for k, s in cands:
        out = s.run(None, feed)[0]
        print(f"threads {threads} {k:9s} {np.median(times[k])*1e3:6.2f} ms  bit-identical {np.array_equal(out, ref)}  max {np.abs(out-ref).max():.1e}", flush=True)
