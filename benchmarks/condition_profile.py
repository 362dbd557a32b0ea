"""Where the lite runtime's condition network spends its time: ONNX Runtime's own profile of one window.

    python benchmarks/condition_profile.py                       # the built-in model, both graph levels
    python benchmarks/condition_profile.py --model runs/X --level all --depth 3

The condition network (``condition.onnx`` of ``openfoley.lite.export``: video encoders, MMA, event paths,
key frames, the generator's prepared condition) runs once per 8 s window on the helper lane of
``LitePipeline`` (docs/generate.md, "Two lanes"), so with an event path at 25 fps it is what a long video
waits for. This runs it on one window of random frames (the cost does not depend on the pixels) on
``--threads`` threads with ONNX Runtime's profiler on, and prints:

  - the median wall time per window, profiler off (``--reps`` runs after two warm-up runs), per graph level:
    ``extended`` (the portable graph saved in the cache) and ``all`` (plus the CPU-specific layout
    changes applied at load, what ``openfoley.lite.runtime`` does);
  - per level, the kernel time by module (the ONNX node name's first ``--depth`` parts, which the export
    takes from the torch module path: ``event_path/video_encoder`` is the 25 fps path's encoder) and op,
    and by op type. Kernel times add up to more than the wall time's share of them (the profiler's own cost).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def session(path: Path, level: str, threads: int, profile_dir: str | None = None):
    """The saved graph at ``path`` with the lite runtime's own session options (``session_options``)."""
    import onnxruntime as ort

    from openfoley.lite.runtime import session_options

    o = session_options(threads, {"extended": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,  # the saved copy as is
                                  "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level])
    if profile_dir is not None:
        o.enable_profiling = True
        o.profile_file_prefix = str(Path(profile_dir) / "condition")
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def feed_of(sess) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        if "uint8" not in i.type:
            raise SystemExit(f"error: unexpected input {i.name} of type {i.type}")
        out[i.name] = rng.integers(0, 256, shape, dtype=np.uint8)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin", help="model folder, or builtin")
    ap.add_argument("--level", choices=["extended", "all", "both"], default="both")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--depth", type=int, default=2, help="name parts a module keeps")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args(argv)

    from openfoley.errors import OpenFoleyError
    from openfoley.lite.runtime import LitePipeline

    try:
        folder = LitePipeline.from_pretrained(args.model, threads=args.threads).model.folder  # exports if needed
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    saved = sorted(folder.glob("condition.ort-*.onnx"))[-1]  # the portable graph the runtime loads
    print(f"model {args.model}; {saved}; {args.threads} thread(s)")
    for level in (["extended", "all"] if args.level == "both" else [args.level]):
        sess = session(saved, level, args.threads)
        feed = feed_of(sess)
        for _ in range(2):
            sess.run(None, feed)
        walls = []
        for _ in range(args.reps):
            t = time.perf_counter()
            sess.run(None, feed)
            walls.append(time.perf_counter() - t)
        shapes = {k: tuple(v.shape) for k, v in feed.items()}
        print(f"\n## level {level}: {1000 * statistics.median(walls):.1f} ms per window (median of {args.reps}), "
              f"inputs {shapes}")
        with tempfile.TemporaryDirectory() as tmp:
            prof = session(saved, level, args.threads, tmp)
            runs = 4
            for _ in range(runs + 1):
                prof.run(None, feed)
            events = json.loads(Path(prof.end_profiling()).read_text())
        by_mod: collections.Counter = collections.Counter()
        nodes: collections.Counter = collections.Counter()
        by_op: collections.Counter = collections.Counter()
        for e in events:
            if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
                continue
            name = e["name"][:-len("_kernel_time")].strip("/")
            op = e["args"].get("op_name", "?")
            parts = name.split("/")
            mod = "/".join(parts[:args.depth]) if len(parts) > 1 else "(top level)"
            by_mod[(mod, op)] += e["dur"]
            nodes[(mod, op)] += 1
            by_op[op] += e["dur"]
        scale = 1000.0 * (runs + 1)  # us summed over the runs -> ms per run
        total = sum(by_op.values()) / scale
        print(f"profiled kernel time {total:.1f} ms per window\n")
        print("| module | op | nodes | ms per window | share |\n|---|---|---|---|---|")
        for (mod, op), us in by_mod.most_common(args.top):
            print(f"| {mod} | {op} | {nodes[(mod, op)] // (runs + 1)} | {us / scale:.1f} | {us / scale / total:.1%} |")
        print("\n| op | ms per window | share |\n|---|---|---|")
        for op, us in by_op.most_common(12):
            print(f"| {op} | {us / scale:.1f} | {us / scale / total:.1%} |")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
