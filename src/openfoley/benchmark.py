"""The paper's ablation tables on FoleyWorld: the variants, the reference rows, and running them.

Variants are config overrides of one base preset, so every row trains through the same loop and is
sampled through the same pipeline:

    Table 3   full, no-mma, no-mfg (Gaussian diffusion instead of flow), no-mma-no-mfg
    Table 4   flow-nf (vanilla normalizing flow), flow-coupling (conditional affine coupling); full = CFM
    Table 5   mask-0.2, mask-0.6; full = 0.4

Reference rows bound the numbers: ``ground-truth`` (the real audio through our features and vocoder:
the ceiling), ``retrieval`` (the audio of the nearest training clip by video features: a strong
non-generative baseline), ``shuffled`` (real audio of another test clip: the floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no-mma": {"alignment.enabled": False},
    "no-mfg": {"flow.kind": "ddpm"},
    "no-mma-no-mfg": {"alignment.enabled": False, "flow.kind": "ddpm"},
    "flow-nf": {"flow.kind": "nf"},
    "flow-coupling": {"flow.kind": "coupling"},
    "mask-0.2": {"alignment.mask_ratio": 0.2},
    "mask-0.6": {"alignment.mask_ratio": 0.6},
}

REFERENCES: dict[str, str] = {
    "ground-truth": "real audio through our log-mel and vocoder (the ceiling)",
    "retrieval": "audio of the nearest training clip by video features (non-generative baseline)",
    "shuffled": "real audio of another test clip (the floor)",
}

TABLES: dict[str, list[str]] = {
    "Table 3 (components)": ["full", "no-mma", "no-mfg", "no-mma-no-mfg"],
    "Table 4 (flow type)": ["full", "flow-nf", "flow-coupling"],
    "Table 5 (mask ratio)": ["mask-0.2", "full", "mask-0.6"],
}


@dataclass(frozen=True)
class VariantInfo:
    name: str
    overrides: dict[str, Any]
    description: str


def list_variants() -> list[VariantInfo]:
    out = []
    for name, ov in VARIANTS.items():
        desc = ", ".join(f"{k}={v}" for k, v in ov.items()) or "the full method (MMA + CFM, mask ratio 0.4)"
        out.append(VariantInfo(name, ov, desc))
    for name, desc in REFERENCES.items():
        out.append(VariantInfo(name, {}, f"reference row: {desc}"))
    return out


# --- running rows ---------------------------------------------------------------------------------

def _clip_videos(split_dir: Path) -> list[Path]:
    from openfoley.data.manifest import iter_manifest

    manifest = split_dir / "manifest.jsonl"
    if manifest.is_file():
        vids = [r.resolve(split_dir) for r in iter_manifest(manifest)]
    else:
        vids = sorted(split_dir.glob("*.mp4"))
    if not vids:
        from openfoley.errors import DataError

        raise DataError(f"{split_dir}: no rendered clips (expected manifest.jsonl or *.mp4)")
    return vids


def _variant_weights(name: str, base_preset: str, model_root: Path, train_store: Path | None,
                     train_steps: int, seed: int, builtin_for_full: str | None) -> Path | str:
    """Weights for a variant: an existing MODEL_ROOT/name/weights, else train it (when a store is given)."""
    from openfoley.config import apply_overrides, get_preset
    from openfoley.errors import ModelError

    if name == "full" and builtin_for_full is not None:
        return builtin_for_full
    run = model_root / f"{name}-seed{seed}"
    if (run / "weights" / "model.safetensors").is_file():
        return run / "weights"
    if train_store is None:
        raise ModelError(f"{run}: no weights for variant {name!r}; give --train-store STORE to train it")
    from openfoley.features.store import FeatureStore
    from openfoley.training.loop import train

    cfg = apply_overrides(get_preset(base_preset), {**VARIANTS[name], "train.seed": seed})
    store = FeatureStore(train_store)
    store.check_compatible(cfg)
    train(cfg, store, run, max_steps=train_steps, progress=False)
    return run / "weights"


@torch.no_grad()
def _clip_embedding(model, frames) -> "torch.Tensor":
    """One unit vector per clip: the model's aligned video features (b, t, d) averaged over time."""
    feats = model.align(frames).mean(dim=1)
    return torch.nn.functional.normalize(feats, dim=-1)


def retrieval_sources(weights: Path | str, train_store: Path, train_videos: Path, videos: list[Path],
                      batch: int = 16) -> list[Path]:
    """For each test video, the training clip (mp4 in ``train_videos``) nearest by video features."""
    from openfoley.features.store import FeatureStore
    from openfoley.io import read_video
    from openfoley.pipeline import FoleyPipeline

    model = FoleyPipeline.from_pretrained(weights, device="cpu").model
    cfg = model.cfg
    store = FeatureStore(train_store)
    store.check_compatible(cfg)
    bank = []
    for i0 in range(0, len(store), batch):
        frames = torch.stack([store[i]["frames"] for i in range(i0, min(len(store), i0 + batch))])
        bank.append(_clip_embedding(model, frames))
    bank_t = torch.cat(bank)  # (N, d)
    out = []
    for v in videos:
        frames = read_video(v, cfg.video.fps, cfg.video.size, duration=cfg.seconds, resize=cfg.video.resize).frames
        q = _clip_embedding(model, frames[None])  # (1, d)
        out.append(train_videos / f"{store.ids[int((bank_t @ q[0]).argmax())]}.mp4")
    return out


def render_row(row: str, videos: list[Path], out_dir: Path, *, weights: Path | str | None = None,
               steps: int | None = None, seed: int = 0, audio_cfg=None, progress: bool = True,
               sources: list[Path] | None = None) -> Path:
    """Write ``out_dir/<clip>.mp4`` for every clip: the clip's video with the row's audio.

    Rows: a model (``weights``), ``ground-truth`` (real audio -> log-mel -> vocoder), ``shuffled`` (the
    real audio of the next clip in the list), ``retrieval`` (the real audio of ``sources[i]``).
    Existing outputs are kept (resumable).
    """
    from openfoley.io import mux, read_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    pipe = None
    if row not in REFERENCES:
        from openfoley.pipeline import FoleyPipeline

        pipe = FoleyPipeline.from_pretrained(weights)
    vocoder = None
    if row == "ground-truth":
        from openfoley.features.mel import log_mel
        from openfoley.vocoder import build_vocoder

        vocoder = build_vocoder("auto", audio_cfg)
    from tqdm import tqdm

    for i, video in enumerate(tqdm(videos, desc=row, disable=not progress)):
        out = out_dir / video.name
        if out.exists():
            continue
        if pipe is not None:
            res = pipe(video, steps=steps, seed=seed + i)
            wav, sr = res.wav, res.sample_rate
        elif row == "ground-truth":
            sr = audio_cfg.sample_rate
            real = read_audio(video, sr)
            mel = log_mel(real[: len(real) // audio_cfg.hop_length * audio_cfg.hop_length], audio_cfg)
            wav = vocoder(mel[None])[0].numpy()
        elif row in ("shuffled", "retrieval"):
            sr = audio_cfg.sample_rate
            src = videos[(i + 1) % len(videos)] if row == "shuffled" else sources[i]
            wav = read_audio(src, sr, duration=read_audio(video, sr).numel() / sr).numpy()
        else:
            raise ValueError(f"row {row!r} needs a model or is not implemented here")
        mux(video, torch.as_tensor(wav), sr, out, force=True)
    return out_dir


def results_markdown(split: str, rows: dict[str, dict], command: str) -> str:
    """A table of the headline metrics per row, like the paper's tables."""
    def f(x, nd=3):
        return "n/a" if x is None else f"{x:.{nd}f}"

    lines = [f"### {split}", "", f"`{command}`", "",
             "| row | clips | FAD ↓ | KLD ↓ | Align Acc ↑ | Onset Acc ↑ | Onset AP ↑ | event-time F1 ↑ |",
             "|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        et = r.get("event_time") or {}
        lines.append(f"| {name} | {r['clips']} | {f(r['fad'])} | {f(r['kld'])} | {f(r['align_acc'])} | "
                     f"{f(r['onset_acc'])} | {f(r['onset_ap'])} | {f(et.get('f1'))} |")
    return "\n".join(lines) + "\n"


def run_benchmark(split_dir: str | Path, out_root: str | Path, rows: list[str], *, base_preset: str = "small",
                  model_root: str | Path = "runs/benchmark", builtin_for_full: str | None = "builtin",
                  train_store: str | Path | None = None, train_steps: int = 1500, steps: int | None = None,
                  seed: int = 0, evaluators=None, limit: int | None = None, progress: bool = True,
                  retrieval_videos: str | Path | None = None) -> dict[str, dict]:
    """Generate (or resynthesise) every row's audio for the clips of one split and evaluate it.

    The ``retrieval`` row needs ``train_store`` (the training features) and ``retrieval_videos`` (the
    training clips' mp4 folder); it retrieves with the ``full`` model's video features.
    """
    from openfoley.config import get_preset
    from openfoley.errors import ConfigError
    from openfoley.evaluation.evaluate import evaluate_dirs
    from openfoley.evaluation.evaluators import load_evaluators

    split_dir, out_root, model_root = Path(split_dir), Path(out_root), Path(model_root)
    unknown = [r for r in rows if r not in VARIANTS and r not in REFERENCES]
    if unknown:
        raise ConfigError(f"unknown row(s) {unknown}; `openfoley benchmark --list` names them")
    videos = _clip_videos(split_dir)[:limit]
    ev = load_evaluators(evaluators)
    ref_dir = out_root / "_reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    for v in videos:  # the evaluator matches names: link the real clips (and their ground truth) in one folder
        for src in (v, v.with_suffix(".json")):
            dst = ref_dir / src.name
            if src.exists() and not dst.exists():
                dst.symlink_to(src.resolve())
    results = {}
    for row in rows:
        sources = None
        if row == "retrieval":
            if train_store is None or retrieval_videos is None:
                raise ConfigError("the retrieval row needs --train-store and --retrieval-videos (training clips)")
            full = _variant_weights("full", base_preset, model_root, None, train_steps, seed, builtin_for_full)
            sources = retrieval_sources(full, Path(train_store), Path(retrieval_videos), videos)
        weights = None
        if row in VARIANTS:
            weights = _variant_weights(row, base_preset, model_root, None if train_store is None else Path(train_store),
                                       train_steps, seed, builtin_for_full)
        out = render_row(row, videos, out_root / row, weights=weights, steps=steps, seed=seed,
                         audio_cfg=get_preset(base_preset).audio, progress=progress, sources=sources)
        results[row] = evaluate_dirs(out, ref_dir, ev)
    return results
