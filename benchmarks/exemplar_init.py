"""Does a real recording's sound, given as the ODE's starting point, make the generated sound real? (part 27)

    python benchmarks/exemplar_init.py --split test-closed --clips 200 --library 1000 --t0 0 0.3 0.5 0.7 1 \
        --out runs/exemplar-closed

Part 26: the velocity network does not fit which sound each recording makes, and fitting all of the
bank's recordings needs a few hundred passes per recording, far beyond the 2 cores. Retrieval-augmented
generation sidesteps that: keep examples of real sound beside the model and let the generator reuse one
instead of storing every recording in its weights. This measures the simplest such use, with no training
(SDEdit): for each test clip,

- the **exemplar**: the latent (normalised log-mel, patched) of the library clip nearest by the model's
  clip embedding (``benchmark._clip_embedding``, the retrieval row's key). The library is ``--library``
  live train renders (seed 81, walkers 0.5);
- the ODE starts at flow time ``t0`` from ``x_t0 = (1 - t0) x0 + t0 x_ex`` (the path point between fresh
  noise and the exemplar) and runs to 1 with the model's own sampler (its velocity with CFG, Eq. 7 and
  onset guidance; Euler with the model's step size, ``round(steps * (1 - t0))`` steps, at least one).
  ``t0 = 0`` is the model as it is; ``t0 = 1`` plays the exemplar (retrieval through Griffin-Lim);
- ``--colour``: the exemplar is replaced by its mean over time (each token the clip-wide colour), the
  part of it a model could carry in a few numbers.

Each ``t0`` writes ``OUT/t<t0>/<clip>.mp4`` (the test video with the generated audio; existing files are
kept) and is scored with ``openfoley evaluate`` against the split's real audio (``--reference``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

LIBRARY_SEED = 81


def start_point(x0: torch.Tensor, x_ex: torch.Tensor, t0: float) -> torch.Tensor:
    """x0, x_ex (b, n, d) -> the straight (CondOT, sigma_min 0) path's point at time t0: (b, n, d)."""
    return (1.0 - t0) * x0 + t0 * x_ex


def grid_from(t0: float, steps: int) -> torch.Tensor:
    """The Euler grid from t0 to 1 with the step size of ``steps`` steps over [0, 1]: (g,), g >= 2."""
    k = max(1, round(steps * (1.0 - t0)))
    return torch.linspace(t0, 1.0, k + 1)


def sample_from(model, vc, x_ex: torch.Tensor, t0: float, gen: torch.Generator) -> torch.Tensor:
    """The model's sampler (its velocity with CFG and Eq. 7 refinement, onset guidance, Euler) run from
    ``start_point(x0, x_ex, t0)`` at flow time t0 to 1, x0 drawn from ``gen`` as ``FoleyModel.sample_latent``
    draws it: x_ex (b, n, p*f) -> x1 (b, n, p*f). t0 = 0 is ``sample_latent`` itself; t0 = 1 returns x_ex."""
    from openfoley.flow.base import randn
    from openfoley.flow.solvers import integrate

    fc = model.cfg.flow
    x0 = randn(tuple(x_ex.shape), gen, device=x_ex.device, dtype=x_ex.dtype)
    if t0 >= 1.0:
        return x_ex
    fn = model.generator.velocity_fn(vc.flow, fc.cfg_scale, fc.refine and fc.refine_scale != 0.0)
    if fc.onset_guidance > 0 and vc.onset is not None and model.generator.supports_guidance:
        fn = model.generator.guided_fn(fn, model.onset_guide(model.guide_target(vc.onset)), fc.onset_guidance)
    return integrate(fn, start_point(x0, x_ex, t0), grid_from(t0, fc.steps), fc.solver)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--foleyworld", default="data/foleyworld")
    ap.add_argument("--split", default="test-closed")
    ap.add_argument("--reference", default=None, help="folder of the split's reference mp4s (real audio)")
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--library", type=int, default=1000)
    ap.add_argument("--t0", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    ap.add_argument("--colour", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.clips < 1 or args.library < 1 or not all(0.0 <= t <= 1.0 for t in args.t0):
        print("error: --clips and --library must be at least 1 and every --t0 in [0, 1]", file=sys.stderr)
        return 2
    videos = sorted(Path(args.foleyworld, args.split).glob("*.mp4"))[: args.clips]
    if not videos:
        print(f"error: {args.foleyworld}/{args.split}: no rendered clips", file=sys.stderr)
        return 2
    ref = Path(args.reference) if args.reference else None
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sync_check import model_frames

    from openfoley.benchmark import _clip_embedding
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.io import mux
    from openfoley.nn.patches import patchify
    from openfoley.pipeline import FoleyPipeline

    pipe = FoleyPipeline.from_pretrained(args.weights, device="cpu")
    model, cfg = pipe.model, pipe.model.cfg
    p = cfg.encoder.audio_patch
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lib_file = out / f"library-{args.library}.pt"
    lib = torch.load(lib_file) if lib_file.exists() else None
    if lib is not None and lib.get("weights") not in (None, args.weights):
        print(f"error: {lib_file} was built with {lib['weights']}, not {args.weights}", file=sys.stderr)
        return 2
    if lib is None:
        t = time.perf_counter()
        store = LiveStore.for_training(args.bank, cfg, walkers=0.5, seed=LIBRARY_SEED)
        keys, lat = [], []
        for i0 in range(0, args.library, 16):
            items = [store[i] for i in range(i0, min(args.library, i0 + 16))]
            frames = torch.stack([it["frames"] for it in items])
            mel = torch.stack([it["mel"] for it in items])
            with torch.no_grad():
                keys.append(_clip_embedding(model, frames))
                lat.append(patchify(model.model_mel(mel), p))
        lib = {"keys": torch.cat(keys), "latents": torch.cat(lat), "weights": args.weights}
        torch.save(lib, lib_file)
        print(f"library: {args.library} clips in {time.perf_counter() - t:.0f} s", flush=True)
    folders = {t0: out / f"t{t0:g}" for t0 in args.t0}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    t = time.perf_counter()
    for i, video in enumerate(videos):  # each clip's frames, exemplar and condition once, for every t0
        todo = [t0 for t0, folder in folders.items() if not (folder / video.name).exists()]
        if not todo:
            continue
        frames, ev = model_frames(video, cfg)  # (1, t, 3, H, W) and the event path's own (or None)
        with torch.no_grad():
            key = _clip_embedding(model, frames)  # (1, d)
            x_ex = lib["latents"][int((lib["keys"] @ key[0]).argmax())][None]  # (1, n, p*f)
            if args.colour:
                x_ex = x_ex.mean(1, keepdim=True).expand_as(x_ex)
            vc = model.video_condition(frames, event_frames=ev)
        for t0 in todo:
            with torch.no_grad():
                x1 = sample_from(model, vc, x_ex, t0, torch.Generator().manual_seed(args.seed + i))
                wav = pipe.vocoder(model.latent_to_mel(x1))[0]
            mux(video, wav, cfg.audio.sample_rate, folders[t0] / video.name, force=True)
    print(f"generated {len(videos)} clips at {len(folders)} start times in {time.perf_counter() - t:.0f} s", flush=True)
    if ref is None:
        return 0
    for t0, folder in folders.items():
        js = out / f"t{t0:g}.json"
        subprocess.run([sys.executable, "-m", "openfoley", "evaluate", "--generated", str(folder), "--reference",
                        str(ref), "--out", str(js), "--force"], check=True, stdout=subprocess.DEVNULL)
        r = json.loads(js.read_text())
        print(f"t0 {t0:g}: FAD {r['fad']:.1f}  KLD {r['kld']:.2f}  Align Acc {r['align_acc']:.3f}  "
              f"event-time F1 {r['event_time']['f1']:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
