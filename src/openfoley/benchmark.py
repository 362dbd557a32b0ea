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
from typing import TYPE_CHECKING, Any

import torch

from openfoley.config.tools import LIVE_WALKER_SHARE

if TYPE_CHECKING:
    from openfoley.pipeline import FoleyPipeline
    from openfoley.vocoder import Vocoder

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no-mma": {"alignment.enabled": False},
    "no-mfg": {"flow.kind": "ddpm"},
    "no-mma-no-mfg": {"alignment.enabled": False, "flow.kind": "ddpm"},
    "flow-nf": {"flow.kind": "nf"},
    "flow-coupling": {"flow.kind": "coupling"},
    "mask-0.2": {"alignment.mask_ratio": 0.2},
    "mask-0.6": {"alignment.mask_ratio": 0.6},
    # MMA's masked prediction off (L_mask = 0) with everything else kept, the onset target included: what
    # the masking itself adds, apart from the onset target that `no-mma` also removes (docs/results.md)
    "mask-0": {"alignment.mask_ratio": 0.0},
    # the sync design switches of docs/sync-diagnosis.md, each against `full` (the `small` preset's values)
    "conv-video": {"encoder.video": "conv", "encoder.temporal_layers": 1},
    "patch-video": {"encoder.video": "patch", "encoder.temporal_layers": 1},
    "transformer-velocity": {"flow.net": "transformer"},
    "no-onset-target": {"alignment.onset_weight": 0.0},
    "onset-channel": {"alignment.onset_condition": 3.0},
}

REFERENCES: dict[str, str] = {
    "ground-truth": "real audio through our log-mel and vocoder (the ceiling)",
    "retrieval": "audio of the nearest training clip by video features (non-generative baseline)",
    "shuffled": "real audio of another test clip (the floor)",
}

TABLES: dict[str, list[str]] = {
    "Table 3 (components)": ["full", "no-mma", "no-mfg", "no-mma-no-mfg"],
    "Table 4 (flow type)": ["full", "flow-nf", "flow-coupling"],
    "Table 5 (mask ratio)": ["mask-0", "mask-0.2", "full", "mask-0.6"],
    "Sync design (docs/sync-diagnosis.md)": ["full", "conv-video", "patch-video", "transformer-velocity",
                                              "no-onset-target", "onset-channel"],
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


@dataclass(frozen=True)
class TrainData:
    """What missing variants train on: a feature ``store`` folder, or clips rendered on the fly from the
    sound bank ``live`` (``openfoley train --live``, with ``walkers`` its ``--live-walkers``)."""

    store: Path | None = None
    live: Path | None = None
    walkers: float = LIVE_WALKER_SHARE

    def __post_init__(self) -> None:
        from openfoley.errors import ConfigError

        if self.store is not None and self.live is not None:
            raise ConfigError("train variants on a feature store or on live renders, not both")
        if not 0.0 <= self.walkers <= 1.0:
            raise ConfigError(f"walker share must be in [0, 1], got {self.walkers}")

    def __bool__(self) -> bool:
        return self.store is not None or self.live is not None

    def open(self, cfg):
        """The training set for ``cfg``: a ``FeatureStore`` (checked against cfg) or a ``LiveStore``."""
        if self.live is not None:
            from openfoley.data.foleyworld.live import LiveStore

            return LiveStore.for_training(self.live, cfg, self.walkers)
        from openfoley.features.store import FeatureStore

        if self.store is None:
            raise ValueError("TrainData.open: no store and no live bank (check bool(data) first)")
        store = FeatureStore(self.store)
        store.check_compatible(cfg)
        return store


def _variant_weights(name: str, base_cfg, model_root: Path, data: TrainData,
                     train_steps: int, seed: int, full_model: str | None) -> Path | str:
    """Weights for a variant: ``full_model`` for ``full`` when given, else MODEL_ROOT/<name>-seed<k>/weights,
    trained there first (resuming a cut-off run) when training data is given."""
    from openfoley.config import apply_overrides
    from openfoley.errors import ModelError

    if name == "full" and full_model is not None:
        return full_model
    run = model_root / f"{name}-seed{seed}"
    done = _weights_step(run / "weights")
    # The loop exports weights at every checkpoint, so weights alone do not mean the run finished: a run
    # cut off before ``train_steps`` is resumed when it can be (its weights are used as they are if not).
    if done is not None and (done >= train_steps or not data):
        return run / "weights"
    if not data:
        raise ModelError(f"{run}: no weights for variant {name!r}; give --train-store STORE or --train-live BANK "
                         "to train it")
    from openfoley.training.loop import train

    cfg = apply_overrides(base_cfg, {**VARIANTS[name], "train.seed": seed})
    train(cfg, data.open(cfg), run, max_steps=train_steps, progress=False)
    return run / "weights"


def _weights_step(weights: Path) -> int | None:
    """The training step a weights folder was exported at (-1 if it does not say); None without weights."""
    import json

    if not (weights / "model.safetensors").is_file():
        return None
    try:
        return int(json.loads((weights / "meta.json").read_text()).get("step", -1))
    except (OSError, ValueError, AttributeError):
        return -1


def _weights_step_of(weights: Path | str) -> int | None:
    """``_weights_step`` of a folder or of a named model (``builtin``)."""
    from openfoley.pipeline.folders import resolve_model_dir

    return _weights_step(resolve_model_dir(weights))


@torch.no_grad()
def _clip_embedding(model, frames) -> torch.Tensor:
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
               steps: int | None = None, solver: str | None = None, cfg_scale: float | None = None, seed: int = 0,
               audio_cfg=None, progress: bool = True, sources: list[Path] | None = None) -> Path:
    """Write ``out_dir/<clip>.mp4`` for every clip: the clip's video with the row's audio.

    Rows: a model (``weights``), ``ground-truth`` (real audio -> log-mel -> vocoder), ``shuffled`` (the
    real audio of the next clip in the list), ``retrieval`` (the real audio of ``sources[i]``).
    ``steps``, ``solver`` and ``cfg_scale`` override a model's sampler (default: its config). Existing
    outputs are kept (resumable).
    """
    from openfoley.io import mux, read_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    pipe: FoleyPipeline | None = None
    if row not in REFERENCES:
        from openfoley.pipeline import FoleyPipeline

        pipe = FoleyPipeline.from_pretrained(weights)
    vocoder: Vocoder | None = None
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
            res = pipe(video, steps=steps, solver=solver, cfg_scale=cfg_scale, seed=seed + i)
            wav, sr = res.wav, res.sample_rate
        elif row == "ground-truth":
            sr = audio_cfg.sample_rate
            real = read_audio(video, sr)
            mel = log_mel(real[: len(real) // audio_cfg.hop_length * audio_cfg.hop_length], audio_cfg)
            assert vocoder is not None  # built above for this row
            wav = vocoder(mel[None])[0].numpy()
        elif row in ("shuffled", "retrieval"):
            sr = audio_cfg.sample_rate
            if row == "shuffled":
                src = videos[(i + 1) % len(videos)]
            elif sources is not None:
                src = sources[i]
            else:
                raise ValueError("the retrieval row needs sources (one training clip per video)")
            wav = read_audio(src, sr, duration=read_audio(video, sr).numel() / sr).numpy()
        else:
            raise ValueError(f"row {row!r} needs a model or is not implemented here")
        mux(video, torch.as_tensor(wav), sr, out, force=True)
    return out_dir


SEEDED = set(VARIANTS) | {"retrieval"}  # rows whose output depends on a seed (a trained model, sampling)


def row_dir(out_root: Path, row: str, seed: int) -> Path:
    """Where a row's clips and metrics.json go: ROW/seed-K for seeded rows, ROW for the fixed references."""
    return out_root / row / f"seed-{seed}" if row in SEEDED else out_root / row


def collect_results(out_root: str | Path) -> dict[str, dict[int | None, dict]]:
    """Every finished (row, seed) under ``out_root``: ``{row: {seed or None: metrics}}``."""
    import json

    out: dict[str, dict[int | None, dict]] = {}
    for m in sorted(Path(out_root).glob("*/metrics.json")) + sorted(Path(out_root).glob("*/seed-*/metrics.json")):
        rel = m.relative_to(out_root).parts
        seed = int(rel[1].removeprefix("seed-")) if len(rel) == 3 else None
        out.setdefault(rel[0], {})[seed] = json.loads(m.read_text())
    return out


METRICS: list[tuple[str, str, str]] = [  # (key, header, format)
    ("fad", "FAD ↓", ".1f"), ("kld", "KLD ↓", ".2f"), ("align_acc", "Align Acc ↑", ".3f"),
    ("onset_acc", "Onset Acc ↑", ".3f"), ("onset_ap", "Onset AP ↑", ".3f"), ("event_f1", "event-time F1 ↑", ".3f"),
]


def _metric(m: dict, key: str) -> float | None:
    v = (m.get("event_time") or {}).get("f1") if key == "event_f1" else m.get(key)
    return None if v is None or v != v else float(v)


def summarise(per_seed: dict[int | None, dict]) -> dict[str, Any]:
    """Mean and sample standard deviation (ddof 1; 0 for one seed) of each metric over a row's seeds."""
    import statistics

    out: dict[str, Any] = {"seeds": sorted(k for k in per_seed if k is not None),
                           "clips": min(m["clips"] for m in per_seed.values())}
    for key, _, _ in METRICS:
        vals = [v for v in (_metric(m, key) for m in per_seed.values()) if v is not None]
        out[key] = None if not vals else {"mean": statistics.fmean(vals),
                                          "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
                                          "n": len(vals)}
    return out


def results_markdown(split: str, results: dict[str, dict[int | None, dict]], command: str | None = None,
                     rows: list[str] | None = None, title: str | None = None) -> str:
    """A table of the headline metrics per row (mean ± std over seeds), like the paper's tables."""
    rows = [r for r in (rows or list(results)) if r in results]
    lines = [f"### {title or split}", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += ["| row | seeds | clips | " + " | ".join(h for _, h, _ in METRICS) + " |",
              "|---|---|---|" + "---|" * len(METRICS)]
    for name in rows:
        s = summarise(results[name])
        cells = []
        for key, _, fmt in METRICS:
            v = s[key]
            cells.append("n/a" if v is None else f"{v['mean']:{fmt}}" + (f" ± {v['std']:{fmt}}" if v["n"] > 1 else ""))
        seeds = ",".join(map(str, s["seeds"])) or "-"
        lines.append(f"| {name} | {seeds} | {s['clips']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def differences_markdown(split: str, results: dict[str, dict[int | None, dict]], base: str = "full") -> str:
    """Each variant's mean minus ``base``'s mean per metric, with the two spreads beside it
    (``+d (s_variant, s_base)``); a sign that flips within the spreads is not a finding."""
    if base not in results:
        return ""
    b = summarise(results[base])
    lines = [f"### {split}: variant mean − {base} mean (spread of each)", "",
             "| row | " + " | ".join(h for _, h, _ in METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for name in VARIANTS:
        if name == base or name not in results:
            continue
        v, cells = summarise(results[name]), []
        for key, _, fmt in METRICS:
            if v[key] is None or b[key] is None:
                cells.append("n/a")
                continue
            d = v[key]["mean"] - b[key]["mean"]
            cells.append(f"{d:+{fmt}} ({v[key]['std']:{fmt}}, {b[key]['std']:{fmt}})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_tables(split: str, results: dict[str, dict[int | None, dict]]) -> str:
    """All rows, the paper's ablation tables (3-5) as subsets, and each variant's difference from full."""
    order = list(VARIANTS) + list(REFERENCES)
    parts = [results_markdown(split, results, rows=[r for r in order if r in results], title=f"{split}: all rows")]
    for title, rows in TABLES.items():
        if any(r in results for r in rows):
            parts.append(results_markdown(split, results, rows=rows, title=f"{split}: {title}"))
    if sum(r in results for r in VARIANTS) > 1:
        parts.append(differences_markdown(split, results))
    return "\n".join(parts)


def run_benchmark(split_dir: str | Path, out_root: str | Path, rows: list[str], *, base_cfg=None,
                  base_preset: str = "small", model_root: str | Path = "runs/benchmark/models",
                  full_model: str | None = "builtin", train_store: str | Path | None = None,
                  train_steps: int = 1500, steps: int | None = None, solver: str | None = None,
                  cfg_scale: float | None = None, seeds: list[int] | tuple[int, ...] = (0,),
                  evaluators=None, limit: int | None = None, progress: bool = True,
                  retrieval_videos: str | Path | None = None, train_live: str | Path | None = None,
                  train_walkers: float = LIVE_WALKER_SHARE) -> dict[str, dict[int | None, dict]]:
    """Generate (or resynthesise) every row's audio for the clips of one split, for every seed, and evaluate it.

    Each (row, seed) writes its clips and ``metrics.json`` to ``row_dir(out_root, row, seed)``; a finished one
    (same clip count, same weights and sampler, same evaluator versions) is not redone, so cut-off runs resume and
    several processes can share one ``out_root`` if they take different rows or seeds. New evaluators rescore the
    existing clips; new weights, ``steps``, ``solver`` or ``cfg_scale`` remake them. ``full_model`` None trains ``full`` like
    every other variant (MODEL_ROOT/full-seed<k>); ``base_cfg`` (default: the ``base_preset``) is the config the
    variants' overrides apply to. The ``retrieval`` row needs ``train_store`` (the training features) and
    ``retrieval_videos`` (the training clips' mp4 folder); it retrieves with the seed's ``full`` model.
    ``train_live`` (a sound bank) trains missing variants on clips rendered on the fly instead of on
    ``train_store``, with ``train_walkers`` of the strike and impact sources drawn as walkers.
    Returns ``{row: {seed (None for fixed rows): metrics}}`` for the rows asked.
    """
    import json

    from openfoley.config import get_preset
    from openfoley.errors import ConfigError
    from openfoley.evaluation.evaluate import evaluate_dirs
    from openfoley.evaluation.evaluators import load_evaluators
    from openfoley.io import atomic_output

    split_dir, out_root, model_root = Path(split_dir), Path(out_root), Path(model_root)
    base_cfg = base_cfg if base_cfg is not None else get_preset(base_preset)
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
                try:
                    dst.symlink_to(src.resolve())
                except FileExistsError:  # another process sharing out_root linked it first
                    pass
    store = None if train_store is None else Path(train_store)
    data = TrainData(store=None if train_live is not None else store,
                     live=None if train_live is None else Path(train_live), walkers=train_walkers)
    ref_cache: dict = {}  # every row is scored against the same references: decode and score them once
    results: dict[str, dict[int | None, dict]] = {}
    for row in rows:
        for seed in (seeds if row in SEEDED else [seeds[0]]):
            out = row_dir(out_root, row, seed)
            metrics_path = out / "metrics.json"
            key = seed if row in SEEDED else None
            weights = sources = None
            if row in VARIANTS or row == "retrieval":  # trains (or finishes training) the model if needed
                weights = _variant_weights("full" if row == "retrieval" else row, base_cfg, model_root, data,
                                           train_steps, seed, full_model)
            made_by: dict[str, object] | None = None
            if weights is not None:
                made_by = {"weights": str(weights), "step": _weights_step_of(weights)}
                if row != "retrieval" and (steps is not None or solver is not None or cfg_scale is not None):
                    sampler: dict[str, object] = {"steps": steps, "solver": solver}  # other settings, other clips
                    if cfg_scale is not None:
                        sampler["cfg_scale"] = cfg_scale
                    made_by["sampler"] = sampler
            stale = False
            if metrics_path.is_file():
                done = json.loads(metrics_path.read_text())
                same_clips = done.get("clips") == len(videos) and not done.get("skipped")
                same_evaluators = {k: done.get("evaluators", {}).get(k) for k in ev.versions} == ev.versions
                if done.get("made_by") == made_by and same_clips and same_evaluators:
                    results.setdefault(row, {})[key] = done
                    continue
                stale = done.get("made_by") != made_by  # else only the scores are redone, not the clips
            marker = out / "made_by.json"  # clips left by a cut-off run are kept only if the same weights made them
            if stale or (marker.is_file() and json.loads(marker.read_text()) != made_by):
                for old in out.glob("*.mp4"):
                    old.unlink()
            out.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(made_by))
            if row == "retrieval" and any(not (out / v.name).exists() for v in videos):  # else only rescoring
                if store is None or retrieval_videos is None:
                    raise ConfigError("the retrieval row needs --train-store and --retrieval-videos (training clips)")
                assert weights is not None  # set above for the retrieval row
                sources = retrieval_sources(weights, store, Path(retrieval_videos), videos)
            render_row(row, videos, out, weights=None if row == "retrieval" else weights, steps=steps, solver=solver,
                       cfg_scale=cfg_scale, seed=seed, audio_cfg=base_cfg.audio, progress=progress, sources=sources)
            res = evaluate_dirs(out, ref_dir, ev, reference_cache=ref_cache)
            res["row"], res["seed"], res["made_by"] = row, key, made_by
            with atomic_output(metrics_path, force=True) as tmp:
                Path(tmp).write_text(json.dumps(res, indent=1))
            results.setdefault(row, {})[key] = res
    return results
