"""Can a head that sees neighbouring frames find the falling-object contacts the linear onset head misses?

    python benchmarks/onset_head_fit.py collect --out runs/onset-feats.pt      # the frozen video side, once
    python benchmarks/onset_head_fit.py fit runs/onset-feats.pt                # heads fitted and scored

The onset head is one linear map per frame on MMA's aligned features (``alignment.onset_weight``); its
peaks are the events onset guidance pulls the sound to. Part 21 found the falling-object clips it fails
on (mostly arrows) have a track that peaks on the renderer's silent touch-down one or two frames after
the contact: a rule over the track's peaks does not fix that, and a linear map of one frame cannot tell
the first rise from the second. This asks whether the aligned features hold the answer for a head that
reads a few frames on either side, before any change to the model: the features of a frozen model are
computed once, heads are fitted on them alone (the onset target, MSE, as in training) and scored by the
video events they give (the pipeline's peak rule, ``onset_peaks`` at the threshold, 0.1 s tolerance).

``collect`` (the model's video side only) keeps the aligned features (t, d) and, per set:

  train-live     ``--live`` renders as training draws them (``LiveStore.for_training``, walkers 0.5, seed 91),
                 with the onset target of their audio: what heads are fitted on
  live-tune      200 new train-split scenes of every kind (``LiveStore``, seed 4242, never trained on) with
                 their events: with falling-tune, the sets a head and threshold are chosen on
  train-falling  ``--falling`` falling-object renders (one impact source, train recordings, seeds 100 on,
                 H.264 mp4 decoded as the pipeline does), with their onset target: fitted on with ``--with-falling``
  falling-tune / falling-check   ``benchmarks/sync_check.py``'s clips, seeds 1-6 / 7-12, with their contacts
  test-closed / test-open        the benchmark's 200 clips per split (``data/store-small-*``), with their events

Each set is saved as soon as it is computed; a second ``collect`` with the same ``--out`` computes only the
sets the file lacks. ``fit`` scores the model's own head (linear or convolutional) and fits ``linear`` (the same head refitted: the control) and ``conv``
(``alignment.onset_head_kernel`` > 1: two 1-D convolutions over time, kernel ``--kernel``,
width ``--width``) with Adam, and prints, per set, the
mean video-event F1 and the clips below 0.8 at each ``--threshold``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from openfoley.alignment.mma import build_onset_head

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peak_rules import falling_sets, live_tune_set, store_set, video_event_f1  # noqa: E402  (re-exported)

TRUTH_SETS = ("falling-tune", "live-tune", "falling-check", "test-closed", "test-open")


def collect(args) -> int:
    from openfoley.alignment.mma import onset_target
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.data.foleyworld.render import render_clip, resolve_splits, split_pool
    from openfoley.data.foleyworld.scenes import kind_of
    from openfoley.features.mel import log_mel
    from openfoley.io import read_video, write_video
    from openfoley.pipeline.core import FoleyPipeline

    pipe = FoleyPipeline.from_pretrained(args.model, device="cpu")
    model, cfg = pipe.model, pipe.cfg
    if not pipe.has_onset_head:
        print(f"error: {args.model} has no onset head", file=sys.stderr)
        return 2
    if model.event_path is not None:  # its track is the event path's: a head fitted here would change nothing
        print(f"error: {args.model} takes its onset track from its event path (alignment.event_path); this fits heads "
              "on the shared aligned features (scripts/fit-event-path.py trains the path)", file=sys.stderr)
        return 2

    def aligned(frames: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.align(frames).float()  # (b, t, d)

    def target(mel: torch.Tensor, t: int) -> torch.Tensor:
        with torch.no_grad():
            return onset_target(model.model_mel(mel), t).float()  # (b, t)

    path_out = Path(args.out)
    out: dict = torch.load(path_out, weights_only=False) if path_out.exists() else {}
    if out and out.get("model") != args.model:
        print(f"error: {args.out} holds features of {out.get('model')}, not {args.model}", file=sys.stderr)
        return 2
    out |= {"fps": cfg.video.fps, "threshold": cfg.flow.onset_peak_threshold, "model": args.model,
            "head": {k: v.clone() for k, v in model.mma.onset_head.state_dict().items()}}

    def save(name: str, entry: dict) -> None:  # after every set, so a stopped run keeps what it has
        out[name] = entry
        path_out.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = path_out.with_suffix(".tmp")
        torch.save(out, tmp_file)
        tmp_file.replace(path_out)
        print(f"{name}: {len(entry['feats'])} clips", flush=True)

    if "train-live" not in out:
        live = LiveStore.for_training(args.bank, cfg, walkers=0.5, seed=91)
        feats, targets = [], []
        for i0 in range(0, args.live, 16):
            items = [live[i] for i in range(i0, min(args.live, i0 + 16))]
            f = aligned(torch.stack([it["frames"] for it in items]))
            feats.append(f)
            targets.append(target(torch.stack([it["mel"] for it in items]), f.shape[1]))
        save("train-live", {"feats": torch.cat(feats), "target": torch.cat(targets)})
    def aligned_all(frames: list[torch.Tensor]) -> torch.Tensor:  # 16 clips at a time
        return torch.cat([aligned(torch.stack(frames[i0:i0 + 16])) for i0 in range(0, len(frames), 16)])

    if "live-tune" not in out:
        frames, truth = live_tune_set(args.bank, cfg, 200)
        save("live-tune", {"feats": aligned_all(frames), "truth": truth})
    bank = load_bank(args.bank)
    rcfg = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    train_pool = {c: ids for c, ids in split_pool(bank, resolve_splits(bank, None), "train").items()
                  if kind_of(c, bank.class_group(c)) == "impact"}
    with tempfile.TemporaryDirectory(prefix="openfoley-onset-head-") as tmp:
        if "train-falling" not in out:
            feats, targets = [], []
            for i in range(args.falling):
                clip = render_clip(bank, train_pool, rcfg, seed=100 + i // 10, split="train", index=i % 10,
                                   n_sources=1)
                path = Path(tmp) / f"train-{i}.mp4"
                write_video(path, clip.frames, rcfg.fps)
                f = aligned(read_video(path, cfg.video.fps, cfg.video.size, duration=cfg.seconds).frames[None])
                wav = torch.as_tensor(clip.audio)
                mel = log_mel(wav[: cfg.mel_frames * cfg.audio.hop_length], cfg.audio)[None]
                feats.append(f)
                targets.append(target(mel[..., : cfg.mel_frames], f.shape[1]))
            save("train-falling", {"feats": torch.cat(feats), "target": torch.cat(targets)})
        if "falling-tune" not in out or "falling-check" not in out:
            for name, frames, truth in falling_sets(bank, cfg, Path(tmp)):
                save(name, {"feats": torch.cat([aligned(f[None]) for f in frames]), "truth": truth})
    for split in ("test-closed", "test-open"):
        if split not in out:
            frames, truth = store_set(args.stores, split)
            save(split, {"feats": aligned_all(frames), "truth": truth})
    print(f"wrote {args.out}")
    return 0


def fit_head(head: nn.Module, feats: torch.Tensor, target: torch.Tensor, steps: int, lr: float, batch: int,
             seed: int) -> nn.Module:
    """MSE of head(feats)[..., 0] (c, t) against target (c, t), Adam, ``steps`` batches of ``batch`` clips."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(head.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(0, len(feats), (batch,), generator=gen)
        loss = nn.functional.mse_loss(head(feats[idx])[..., 0], target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return head.eval()


def head_from_state(state: dict[str, torch.Tensor], d: int) -> nn.Module:
    """The model's own onset head from its state dict (keys without the ``mma.onset_head.`` prefix): the
    linear head (``weight`` (1, d)) or a convolutional one (``a.weight`` (width, d, k))."""
    if "a.weight" in state:
        width, _, kernel = state["a.weight"].shape
        head = build_onset_head(d, kernel, width)
    else:
        head = build_onset_head(d, 1, 1)
    head.load_state_dict(state)
    return head.eval()


def fit(args) -> int:
    z = torch.load(args.feats, weights_only=False)
    fps = float(z["fps"])
    d = z["train-live"]["feats"].shape[-1]
    feats, target = z["train-live"]["feats"], z["train-live"]["target"]
    if args.with_falling:
        feats = torch.cat([feats, z["train-falling"]["feats"]])
        target = torch.cat([target, z["train-falling"]["target"]])
    shipped = head_from_state(z["head"], d)
    torch.manual_seed(args.seed)
    heads: dict[str, nn.Module] = {"shipped": shipped}
    heads["linear"] = fit_head(nn.Linear(d, 1), feats, target, args.steps, args.lr, args.batch, args.seed)
    heads["conv"] = fit_head(build_onset_head(d, args.kernel, args.width), feats, target, args.steps, args.lr,
                             args.batch, args.seed)
    names = [n for n in TRUTH_SETS if n in z]
    print(f"fitted on {len(feats)} clips ({'train-live + train-falling' if args.with_falling else 'train-live'}), "
          f"{args.steps} steps")
    print("head / threshold".ljust(28) + "".join(f"{n:>22s}" for n in names) + "     fit MSE")
    for hname, head in heads.items():
        label = f"conv k{args.kernel} w{args.width}" if hname == "conv" else hname
        with torch.no_grad():
            mse = float(nn.functional.mse_loss(head(feats)[..., 0], target))
            tracks = {n: head(z[n]["feats"])[..., 0].numpy() for n in names}
        for thr in args.threshold:
            cells = []
            for n in names:
                f1 = video_event_f1(tracks[n], z[n]["truth"], thr, fps)
                cells.append(f"{f1.mean():.3f} ({int((f1 < 0.8).sum()):3d} <0.8)")
            print(f"{label} {thr:.2f}".ljust(28) + "".join(f"{c:>22s}" for c in cells) + f"     {mse:.5f}")
    if args.save:
        save_model(z["model"], heads[args.save_head], args.kernel if args.save_head.startswith("conv") else 1,
                   args.width, args.save, vars(args))
    return 0


def save_model(weights: str, head: nn.Module, kernel: int, width: int, out: str, settings: dict) -> None:
    """Write ``weights`` with its onset head replaced by ``head`` (``alignment.onset_head_kernel`` ``kernel``,
    ``onset_head_width`` ``width``) to the weights folder ``out``; every other tensor is kept as it is."""
    import dataclasses

    from openfoley.checkpoint import load_weights, save_weights
    from openfoley.pipeline.folders import resolve_model_dir

    lw = load_weights(resolve_model_dir(weights))
    cfg = dataclasses.replace(lw.config, alignment=dataclasses.replace(
        lw.config.alignment, onset_head_kernel=kernel, onset_head_width=width))
    state = {k: v for k, v in lw.state.items() if not k.startswith("mma.onset_head.")}
    state |= {f"mma.onset_head.{k}": v.detach().clone() for k, v in head.state_dict().items()}
    from openfoley.model import FoleyModel

    FoleyModel(cfg).load_state_dict(state)  # strict: the new config and the tensors agree
    save_weights(out, state, cfg, {**lw.meta, "onset_head_fit": {k: v for k, v in settings.items() if k != "func"}})
    print(f"wrote {out}: {weights} with the {kernel}-frame onset head")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--model", default="builtin")
    c.add_argument("--bank", default="data/bank")
    c.add_argument("--stores", default="data")
    c.add_argument("--live", type=int, default=2000)
    c.add_argument("--falling", type=int, default=400)
    c.add_argument("--out", required=True)
    f = sub.add_parser("fit")
    f.add_argument("feats")
    f.add_argument("--with-falling", action="store_true")
    f.add_argument("--kernel", type=int, default=5)
    f.add_argument("--width", type=int, default=64)
    f.add_argument("--steps", type=int, default=3000)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--batch", type=int, default=32)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--threshold", type=float, nargs="+", default=[0.32])
    f.add_argument("--save", default=None, help="write the model with one of the fitted heads to this folder")
    f.add_argument("--save-head", choices=("linear", "conv"), default="conv")
    args = ap.parse_args(argv)
    return collect(args) if args.cmd == "collect" else fit(args)


if __name__ == "__main__":
    sys.exit(main())
