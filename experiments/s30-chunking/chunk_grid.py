"""Condition graph: load time and run time against the chunk sizes (search pairs, window-path frames)."""
import os, subprocess, sys, time, statistics, tempfile, json
from pathlib import Path
import numpy as np
root = Path(tempfile.mkdtemp())
configs = [(10**6, 10**6), (16, 10**6), (10**6, 16), (16, 16), (32, 32), (64, 64), (40, 100)]
code = """
import sys
import openfoley.features.stabilise as st, openfoley.encoders.video as vi
st.PAIR_CHUNK = int(sys.argv[1]); vi.FRAME_CHUNK = int(sys.argv[2])
from openfoley.lite.export import export_lite
export_lite('src/openfoley/assets/model-small', sys.argv[3])
import onnxruntime as ort
o = ort.SessionOptions(); o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
o.optimized_model_filepath = sys.argv[3] + '/cpu.onnx'; o.log_severity_level = 3
ort.InferenceSession(sys.argv[3] + '/condition.onnx', o, providers=['CPUExecutionProvider'])
"""
for pc, fc in configs:
    subprocess.run([sys.executable, "-c", code, str(pc), str(fc), str(root / f"{pc}-{fc}")], check=True, stderr=subprocess.DEVNULL)
import onnxruntime as ort, onnx
sys.path.insert(0, "benchmarks")
from condition_profile import feed_of
def mk(path, intra):
    o = ort.SessionOptions(); o.intra_op_num_threads = intra; o.inter_op_num_threads = 1; o.log_severity_level = 3
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    t0 = time.perf_counter(); s = ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"]); return s, time.perf_counter() - t0
res = {}
sess = {}
for pc, fc in configs:
    p = root / f"{pc}-{fc}" / "cpu.onnx"
    loads = [mk(p, 2)[1] for _ in range(3)]
    sess[(pc, fc)] = (mk(p, 1)[0], mk(p, 2)[0])
    nodes = len(onnx.load(str(p)).graph.node)
    res[(pc, fc)] = {"load": statistics.median(loads), "nodes": nodes, "t1": [], "t2": []}
feed = feed_of(sess[configs[0]][0])
ref = sess[configs[0]][0].run(None, feed)
for k, (s1, s2) in sess.items():
    assert all(np.array_equal(a, b) for a, b in zip(s1.run(None, feed), ref)), k
for _ in range(8):
    for k, (s1, s2) in sess.items():
        t0 = time.perf_counter(); s1.run(None, feed); res[k]["t1"].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); s2.run(None, feed); res[k]["t2"].append(time.perf_counter() - t0)
print("| pairs chunk | frames chunk | nodes | load s | 1 thread ms | 2 threads ms |")
for (pc, fc), r in res.items():
    print(f"| {pc if pc < 10**6 else 'all'} | {fc if fc < 10**6 else 'all'} | {r['nodes']} | {r['load']:.3f} | {statistics.median(r['t1'])*1e3:.1f} | {statistics.median(r['t2'])*1e3:.1f} |")
