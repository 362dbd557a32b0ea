"""Can the video tell a test-open clip from a test-closed one? (docs/sync-diagnosis.md part 32)

    python benchmarks/novelty.py --library 1000 --clips 200 --foleyworld data/foleyworld data/foleyworld-r5 \
        --out runs/novelty

Every sampling setting that makes the generated sound more like the training classes (more ODE steps,
a higher sampling temperature, CFG, the global route's gain, a generator fitted for longer) lowers
test-closed FAD and raises test-open FAD (parts 19, 28, 31). A model that knew when a video shows
something it has not heard could sample the two kinds of clip differently. The simplest such knowledge
is distance: how close a clip is to its nearest training clip in the model's own video features.

- The library: ``--library`` live train renders (seed 81, walkers 0.5, as ``benchmarks/exemplar_init.py``);
  for each, two clip embeddings, the mean over time of the aligned video features (``align``, the
  retrieval row's key before its normalisation) and of the appearance path's features (``look``).
- The queries: the first ``--clips`` clips of test-closed and test-open in each ``--foleyworld`` folder.
- The novelty score of a query: its cosine similarity to its nearest (``top1``) and its five nearest
  (``top5``, the mean) library clips, after standardising each embedding dimension by the library's mean
  and standard deviation (raw aligned features share one large component: every raw cosine is 0.996-0.999).
- AUC: the probability that a random test-closed clip is nearer the library than a random test-open one
  (ties count half). 0.5: the score cannot tell the splits apart; 1: it always can.

The library's embeddings are cached in ``--out``, keyed by the weights' bytes (its renders are the slow
part, ~7 min on one thread); a cache of other weights is refused.
Prints one line per embedding, folder and score.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import torch

LIBRARY_SEED = 81
KINDS = ("align", "look")


def auc(closed: torch.Tensor, open_: torch.Tensor) -> float:
    """P(a closed score > an open score), ties counted half: closed (n,), open_ (m,) -> [0, 1]."""
    gt = (closed[:, None] > open_[None, :]).double().mean()
    eq = (closed[:, None] == open_[None, :]).double().mean()
    return float(gt + 0.5 * eq)


def nearest_similarity(library: torch.Tensor, queries: torch.Tensor, k: int) -> torch.Tensor:
    """library (n, d), queries (q, d) -> (q, k): each query's k highest cosine similarities to the library,
    both standardised per dimension by the library's mean and standard deviation first."""
    mu, sd = library.mean(0), library.std(0) + 1e-6
    lib = torch.nn.functional.normalize((library - mu) / sd, dim=-1)
    qs = torch.nn.functional.normalize((queries - mu) / sd, dim=-1)
    return (qs @ lib.T).topk(k, dim=1).values


def weights_digest(folder: Path) -> str:
    """16 hex digits of sha256 over a weights folder's model.safetensors: what the embeddings depend on (the
    sampling settings in config.json do not change them)."""
    from openfoley.checkpoint import WEIGHTS_FILE

    return hashlib.sha256((folder / WEIGHTS_FILE).read_bytes()).hexdigest()[:16]


def main(argv=None) -> int:
    from openfoley.errors import OpenFoleyError

    try:
        return run(argv)
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def run(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--foleyworld", nargs="+", default=["data/foleyworld"])
    ap.add_argument("--clips", type=int, default=200)
    ap.add_argument("--library", type=int, default=1000)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    if args.clips < 1 or args.library < 5:
        print("error: --clips must be at least 1 and --library at least 5", file=sys.stderr)
        return 2
    sets = {}
    for fw in args.foleyworld:
        for split in ("test-closed", "test-open"):
            vids = sorted(Path(fw, split).glob("*.mp4"))[: args.clips]
            if not vids:
                print(f"error: {fw}/{split}: no rendered clips", file=sys.stderr)
                return 2
            sets[(fw, split)] = vids
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.encoders.video import as_unit_frames
    from openfoley.io import read_video
    from openfoley.pipeline import FoleyPipeline
    from openfoley.pipeline.folders import resolve_model_dir

    folder = resolve_model_dir(args.weights)
    model = FoleyPipeline.from_pretrained(folder, device="cpu").model
    cfg = model.cfg
    if model.appearance is None:
        print(f"error: {args.weights} has no appearance path (encoder.appearance)", file=sys.stderr)
        return 2

    @torch.no_grad()
    def embed(frames: torch.Tensor) -> dict[str, torch.Tensor]:  # (b, t, c, h, w) -> {kind: (b, d)}
        return {"align": model.align(frames).mean(1), "look": model.appearance(as_unit_frames(frames)).mean(1)}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lib_file = out / f"library-{args.library}.pt"
    digest = weights_digest(folder)
    lib = torch.load(lib_file) if lib_file.exists() else None
    if lib is not None and lib.get("weights") != digest:
        print(f"error: {lib_file} was built with other weights ({lib.get('weights')}, not {digest})", file=sys.stderr)
        return 2
    if lib is None:
        t = time.perf_counter()
        store = LiveStore.for_training(args.bank, cfg, walkers=0.5, seed=LIBRARY_SEED)
        parts = []
        for i0 in range(0, args.library, 16):
            items = [store[i] for i in range(i0, min(args.library, i0 + 16))]
            parts.append(embed(torch.stack([it["frames"] for it in items])))
        lib = {k: torch.cat([p[k] for p in parts]) for k in KINDS} | {"weights": digest}
        torch.save(lib, lib_file)
        print(f"library: {args.library} clips in {time.perf_counter() - t:.0f} s", flush=True)
    for (fw, split), vids in sets.items():
        parts = []
        for v in vids:
            frames = read_video(v, cfg.video.fps, cfg.video.size, duration=cfg.seconds, resize=cfg.video.resize).frames
            parts.append(embed(frames[None]))
        sets[(fw, split)] = {k: torch.cat([p[k] for p in parts]) for k in KINDS}
    for kind in KINDS:
        for fw in args.foleyworld:
            sims = {s: nearest_similarity(lib[kind], sets[(fw, s)][kind], 5) for s in ("test-closed", "test-open")}
            for name, score in (("top1", lambda x: x[:, 0]), ("top5", lambda x: x.mean(1))):
                c, o = score(sims["test-closed"]), score(sims["test-open"])
                print(f"{kind:6s} {fw:24s} {name}: median similarity closed {c.median():.3f} open {o.median():.3f}"
                      f"  AUC {auc(c, o):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
