"""ORT micro-benchmark of shift-cost formulations (one thread)."""
import time, sys, io
import numpy as np, torch, onnxruntime as ort
from openfoley.features import stabilise


def shift_costs(a, b, r):
    """All pairs at once: the search as it was before chunking (commit f021087's _costs)."""
    return stabilise._costs(a, b, r, 1)

R = 3
class Cur(torch.nn.Module):
    def forward(self, a, b):
        return shift_costs(a, b, R)

def costs_chunk(ref, mov, r, chunk):
    outs = [shift_costs(ref[i:i + chunk], mov[i:i + chunk], r) for i in range(0, ref.shape[0], chunk)]
    return torch.cat(outs, 0)

class Chunk(torch.nn.Module):
    def __init__(self, c): super().__init__(); self.c = c
    def forward(self, a, b): return costs_chunk(a, b, R, self.c)

def costs_rows(ref, mov, r):
    # per dy: one (n, k, h', w') tensor of the k column shifts, one Sub, Abs, ReduceMean
    h, w = ref.shape[-2:]
    core = ref[:, r:h - r, r:w - r]
    k = 2 * r + 1
    rows = []
    for dy in range(-r, r + 1):
        band = mov[:, r + dy:h - r + dy]  # (n, h', w)
        sh = torch.stack([band[:, :, r + dx:w - r + dx] for dx in range(-r, r + 1)], 1)  # (n, k, h', w')
        rows.append((core[:, None] - sh).abs().mean((-2, -1)))
    return torch.stack(rows, -2)

class Rows(torch.nn.Module):
    def forward(self, a, b): return costs_rows(a, b, R)

def costs_sum2(ref, mov, r):
    h, w = ref.shape[-2:]
    core = ref[:, r:h - r, r:w - r]
    rows = []
    for dy in range(-r, r + 1):
        rows.append(torch.stack([(core - mov[:, r + dy:h - r + dy, r + dx:w - r + dx]).abs().flatten(1).mean(-1)
                                 for dx in range(-r, r + 1)], -1))
    return torch.stack(rows, -2)

class Flat(torch.nn.Module):
    def forward(self, a, b): return costs_sum2(a, b, R)

def run(mod, n, name, reps=15):
    a = torch.rand(n, 64, 64); b = torch.rand(n, 64, 64)
    f = io.BytesIO()
    torch.onnx.export(mod, (a, b), f, input_names=["a", "b"], output_names=["c"], dynamo=False)
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(f.getvalue(), so, providers=["CPUExecutionProvider"])
    feed = {"a": a.numpy(), "b": b.numpy()}
    out = s.run(None, feed)[0]
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); s.run(None, feed); ts.append(time.perf_counter() - t0)
    ref = shift_costs(a, b, R).numpy()
    print(f"{name:12s} n={n}: {np.median(ts)*1e3:7.2f} ms  max|diff| {np.abs(out-ref).max():.2e}", flush=True)

for n in (199,):
    run(Cur(), n, "current")
    for c in (8, 25, 50):
        run(Chunk(c), n, f"chunk{c}")
    run(Rows(), n, "rows")
    run(Flat(), n, "flatmean")
