"""End-to-end speed of ``openfoley generate``: real-time factor, stage shares, peak RSS, FLOP/s.

Usage: python benchmarks/generate.py [--model builtin|DIR | --untrained small] [--clips 10,60]
                                     [--steps 4,8,16,25] [--threads N] [--variants] [--device cpu]
                                     [--cli 8,600] [--cli-reps 3]

For each clip length (a 640x360, 25 fps H.264 file rendered here, a square bouncing on a textured
background) and each step count, one ``FoleyPipeline`` call plus the mux into an mp4, timed from decode
to mux. Prints one Markdown table: RTF = wall seconds / audio seconds (target <= 0.1 on 2 CPU cores),
the share of wall time in each stage (decode, encoders, flow, vocoder, mux; "other" is stitching and
onset detection), and the flow generator's achieved GFLOP/s (FLOPs counted by
``torch.utils.flop_counter`` on one window, times the windows, over the flow stage's time) as a
fraction of a plain 1024x1024 fp32 matmul's GFLOP/s measured in the same run. Then the process's peak
RSS (``ru_maxrss``: the largest of all runs, so an upper bound for the 60 s clip).

``--variants`` adds rows at the model's default step count with the Eq. 7 refinement off (2 branches
per step) and with CFG off too (1 branch), to show which defaults meet the target. ``--untrained
PRESET`` times a freshly initialised model of a preset (speed does not depend on the weights), for
before the built-in model exists. On a shared machine, compare rows of one run only, and read the
matmul column to see how loaded the machine was.

``--cli LENGTHS`` (default 8; "none" to skip; ``--clips none`` skips the table above) runs the real
command line in fresh processes, as a user does: for each clip length, (1) ``python -c`` that imports
what ``openfoley generate`` imports (process start + import, seconds from before the spawn to the
end of the imports), then loads the model (``FoleyPipeline.from_pretrained``); (2) ``python -m
openfoley generate CLIP -o OUT.mp4 --no-progress`` end to end, wall seconds from spawn to exit, and
that process's own peak RSS (``ru_maxrss`` of the child from ``os.wait4``). Medians of ``--cli-reps``
runs (peak RSS: the largest); a clip longer than 60 s is run once. The RTF column includes the
process start, which is what the targets (8 s clip: RTF <= 0.15; 60 s: <= 0.05) count. Each runtime of
``--cli-runtimes`` (``lite``: numpy + ONNX Runtime, the default on a CPU; ``torch``) gets its rows, and
a process that only imports what that runtime needs is timed too: the floor of its start-up. The lite
runtime's one-time export (the first run of a model on a machine) is timed once into an empty cache;
the rows then use a built cache, as every later run does.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from openfoley.config import get_preset
from openfoley.encoders.video import default_times
from openfoley.io import mux, write_audio
from openfoley.model import FoleyModel
from openfoley.pipeline import FoleyPipeline


def render_clip(path: Path, seconds: float, fps: int = 25, w: int = 640, h: int = 360) -> Path:
    """Stream a test video to ``path`` one frame at a time (never the whole clip in memory)."""
    rng = np.random.default_rng(0)
    bg = rng.integers(20, 90, (h, w, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=Fraction(fps))
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast"}
        for i in range(round(seconds * fps)):
            img = bg.copy()
            y = int((h - 60) * abs(np.sin(i / fps * 2.3)))
            x = int((w - 60) * (0.5 + 0.4 * np.sin(i / fps * 0.7)))
            img[y : y + 60, x : x + 60] = (230, 200, 60)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, time.perf_counter() - t)
    return reps * 2 * n**3 / best / 1e9


def flow_flops_per_window(pipe: FoleyPipeline, steps: int, cfg_scale: float | None) -> float:
    """FLOPs of one window's ``generator.sample`` (counted on a window of random frames)."""
    c = pipe.cfg
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, c.video_frames, 3, c.video.size, c.video.size), dtype=torch.uint8, generator=g)
    x = x.to(pipe.device)
    times = default_times(x, c.video.fps)
    with torch.no_grad():
        cond = pipe.model.flow_condition(x, pipe.model.align(x, times), times, c.audio_tokens).flow
        with FlopCounterMode(display=False) as fc:
            pipe.model.generator.sample(cond, g, steps=steps, cfg_scale=cfg_scale)
    return float(fc.get_total_flops())


_PROBE = {  # what `openfoley generate` imports, then the model load, per runtime
    "torch": """
import sys, time
t0 = float(sys.argv[1])
import openfoley.cli.generate
from openfoley.pipeline import FoleyPipeline
t1 = time.time()
FoleyPipeline.from_pretrained(sys.argv[2], device="cpu")
print(time.time() - t0, time.time() - t1)
""",
    "lite": """
import sys, time
t0 = float(sys.argv[1])
import openfoley.cli.generate
from openfoley.lite.runtime import LitePipeline
t1 = time.time()
LitePipeline.from_pretrained(sys.argv[2])
print(time.time() - t0, time.time() - t1)
""",
}
FLOOR = {"torch": "import torch", "lite": "import numpy, av, onnxruntime"}


def run_child_rss(cmd: list[str]) -> tuple[float, float, str]:
    """Like ``run_child``, but reaped with ``os.wait4`` so the peak RSS is this child's alone."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.read().strip().splitlines()[-1:]}")
        return wall, usage.ru_maxrss / 1024, out.read()  # ru_maxrss is in kB on Linux


def cli_table(model: str, lengths: list[float], reps: int, tmp: Path, runtimes: list[str]) -> None:
    """Start-up, end-to-end wall and peak RSS of the real command line (see the module docstring)."""
    for rt in runtimes:
        floor = statistics.median(run_child_rss([sys.executable, "-c", FLOOR[rt]])[0] for _ in range(reps))
        print(f"\nthe floor of {rt}: a process that only runs `{FLOOR[rt]}` takes {floor:.2f} s (median of {reps})")
    if "lite" in runtimes:  # the one-time export into an empty cache, which the first run of a model pays
        env = os.environ | {"OPENFOLEY_CACHE": str(tmp / "fresh-cache")}
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", _PROBE["lite"], repr(time.time()), model], env=env, check=True,
                       capture_output=True)
        print(f"first lite run of a model on a machine (export into an empty cache, then load): "
              f"{time.perf_counter() - t0:.2f} s, once")
        subprocess.run([sys.executable, "-c", _PROBE["lite"], repr(time.time()), model], check=True,
                       capture_output=True)  # the benchmark's own cache: built before the timed rows
    print("\n| runtime | clip | process start + import s | model load s | end to end s | RTF (incl. start) "
          "| peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for seconds in lengths:
        clip = render_clip(tmp / f"cli{seconds:g}.mp4", seconds)
        n = 1 if seconds > 60 else reps
        for rt in runtimes:
            starts, loads, walls, rss = [], [], [], []
            for _ in range(n):
                _, _, out = run_child_rss([sys.executable, "-c", _PROBE[rt], repr(time.time()), model])
                a, b = (float(x) for x in out.split())
                starts.append(a - b)
                loads.append(b)
                wall, peak, _ = run_child_rss([sys.executable, "-m", "openfoley", "generate", str(clip), "-o",
                                              str(tmp / "cli_out.mp4"), "--model", model, "--runtime", rt,
                                              "--no-progress", "--force"])
                walls.append(wall)
                rss.append(peak)
            w = statistics.median(walls)
            print(f"| {rt} | {seconds:g} s | {statistics.median(starts):.2f} | {statistics.median(loads):.2f} | "
                  f"{w:.2f} | {w / seconds:.3f} | {max(rss):.0f} |", flush=True)


def load(args) -> FoleyPipeline:
    if args.untrained:
        model = FoleyModel(get_preset(args.untrained))
        model.set_latent_stats(torch.zeros(model.cfg.audio.n_mels), torch.ones(model.cfg.audio.n_mels))
        from openfoley.vocoder import build_vocoder

        return FoleyPipeline(model, build_vocoder(args.vocoder, model.cfg.audio), device=args.device,
                             name=f"untrained {args.untrained}")
    return FoleyPipeline.from_pretrained(args.model, device=args.device, vocoder=args.vocoder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="builtin", help="weights or run folder (default: the built-in model)")
    ap.add_argument("--untrained", metavar="PRESET", help="time a freshly initialised model of PRESET instead")
    ap.add_argument("--clips", default="10,60", help="clip lengths in seconds (default: 10,60)")
    ap.add_argument("--steps", default="4,8,16,25", help="step counts (default: 4,8,16,25)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--vocoder", default="auto")
    ap.add_argument("--variants", action="store_true", help="add refine-off and CFG-off rows at the default steps")
    ap.add_argument("--cli", default="8", help="clip lengths run through the real CLI in fresh processes (default: 8; "
                                               "none to skip)")
    ap.add_argument("--cli-reps", type=int, default=3, help="runs per CLI clip of up to 60 s (median)")
    ap.add_argument("--cli-runtimes", default="lite,torch", help="--runtime values of the CLI rows (default: both)")
    args = ap.parse_args()
    if args.clips == "none":
        print(f"cpus {os.cpu_count()}; load average {os.getloadavg()[0]:.1f}; plain matmul {matmul_gflops():.1f} "
              "GFLOP/s")
    else:
        inprocess(args)
    if args.cli != "none":
        with tempfile.TemporaryDirectory(prefix="openfoley-bench-") as tmp:
            cli_table(args.model, [float(x) for x in args.cli.split(",")], args.cli_reps, Path(tmp),
                      args.cli_runtimes.split(","))


def inprocess(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    pipe = load(args)
    gen = pipe.model.generator
    default_refine = getattr(gen, "refine", None)
    ref = matmul_gflops()
    print(f"model: {pipe.name} ({pipe.cfg.name}, flow {pipe.cfg.flow.kind}); vocoder: {pipe.vocoder.name}; "
          f"device {pipe.device}; torch threads {torch.get_num_threads()}; cpus {os.cpu_count()}; "
          f"load average {os.getloadavg()[0]:.1f}; plain matmul {ref:.1f} GFLOP/s")
    runs = [(int(s), default_refine, None, "") for s in args.steps.split(",")]
    if args.variants and default_refine is not None:
        d = pipe.cfg.flow.steps
        runs += [(d, False, None, "refine off"), (d, False, 1.0, "refine off, cfg off")]
    print("\n| clip | steps | variant | windows | wall s | RTF | decode | encoders | flow | vocoder | mux | other "
          "| flow GFLOP/s | of matmul |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="openfoley-bench-") as tmp:
        for seconds in (float(s) for s in args.clips.split(",")):
            clip = render_clip(Path(tmp) / f"clip{seconds:g}.mp4", seconds)
            pipe(clip, steps=2, duration=1.0)  # warm-up (first-call allocations, thread pools)
            for steps, refine, scale, label in runs:
                if default_refine is not None:
                    gen.refine = refine
                flops = flow_flops_per_window(pipe, steps, scale)
                t0 = time.perf_counter()
                res = pipe(clip, steps=steps, cfg_scale=scale, seed=0)
                t1 = time.perf_counter()
                out = Path(tmp) / "out.mp4"
                write_audio(out.with_suffix(".wav"), res.wav, res.sample_rate, force=True)
                mux(clip, res.wav, res.sample_rate, out, force=True)
                wall = time.perf_counter() - t0
                stages = dict(res.timings, mux=time.perf_counter() - t1)
                named = ("decode", "encoders", "flow", "vocoder", "mux")
                other = wall - sum(stages[k] for k in named)
                share = " | ".join(f"{100 * stages[k] / wall:.0f}%" for k in named)
                gfs = flops * res.windows / max(stages["flow"], 1e-9) / 1e9
                print(f"| {seconds:g} s | {steps} | {label or 'default'} | {res.windows} | {wall:.1f} | "
                      f"{wall / res.duration:.3f} | {share} | {100 * other / wall:.0f}% | {gfs:.1f} | "
                      f"{gfs / ref:.2f} |", flush=True)
    if default_refine is not None:
        gen.refine = default_refine
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"\npeak RSS of the whole run: {rss:.0f} MB (upper bound for the longest clip)")


if __name__ == "__main__":
    main()
