"""A/B: condition.onnx exported by two source trees, the same random window, alternated; bit-identity."""
import os, subprocess, sys, time, statistics, tempfile
from pathlib import Path
import numpy as np
root = Path(tempfile.mkdtemp())
for tag, src in (("old", "/tmp/old/src"), ("new", os.path.abspath("src"))):
    subprocess.run([sys.executable, "-c", f"from openfoley.lite.export import export_lite; export_lite('src/openfoley/assets/model-small', '{root}/{tag}')"],
                   env={**os.environ, "PYTHONPATH": src}, check=True, stderr=subprocess.DEVNULL)
sys.path.insert(0, "benchmarks")
from condition_profile import session, feed_of
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
s = {t: session(root / t / "condition.onnx", "all", threads) for t in ("old", "new")}
feed = feed_of(s["old"])
outs = {t: s[t].run(None, feed) for t in s}
same = all(np.array_equal(a, b) for a, b in zip(outs["old"], outs["new"]))
print("outputs bit-identical:", same, " max diff", max(float(np.abs(a.astype(np.float64) - b).max()) for a, b in zip(outs["old"], outs["new"])))
ts = {t: [] for t in s}
for _ in range(10):
    for t in s:
        t0 = time.perf_counter(); s[t].run(None, feed); ts[t].append(time.perf_counter() - t0)
for t in s:
    print(f"{t}: median {statistics.median(ts[t])*1e3:.1f} ms per window ({threads} thread(s))")
