"""``evaluate_dirs``: score a folder of generated mp4s against a folder of reference mp4s.

Pairs are files with the same name (``.mp4``) in both folders: the reference holds the real audio,
the generated one our output for the same video. Per pair, both files are decoded at each evaluator's
settings (``openfoley.io.read_audio`` / ``read_video``), over the reference's audio length (the
generated audio is cut or zero-padded to it; ``max_seconds`` caps it):

- **FAD** between the audio classifier's window embeddings of all reference clips and of all generated
  clips (``audio_clip_outputs``; ``metrics.fad``);
- **KLD**: paired per clip, KL(p_reference || p_generated) over the audio classifier's class
  probabilities of the whole clip (``metrics.kld``);
- **Align Acc**: the fraction of (video, generated audio) pairs, both read from the generated file, that
  the sync classifier scores above 0.5 (``sync_clip_score``; ``metrics.align_accuracy``). Reported with
  the classifier's own held-out accuracy (from its training report) and, as a ceiling on this data, the
  Align Acc of the reference files' own (video, real audio) pairs;
- **Onsets** (CondFoleyGen): ``onset_detect`` at 22.05 kHz on both sides; count accuracy
  (``onset_acc``), detection accuracy and AP (``metrics.onset_scores``, +-0.1 s);
- **Event times** (FoleyWorld): if the reference folder has ``<name>.json`` with an ``events`` list of
  ``{"time": seconds}`` (the renderer's ground truth), ``event_time_error`` of the generated onsets
  against them, averaged over clips.

Files that cannot be decoded are skipped and listed in ``skipped`` (name and reason); names present in
only one folder are listed in ``unmatched``. Non-finite values are written as ``null`` in JSON.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openfoley.errors import DataError, MediaError
from openfoley.evaluation.evaluators import (
    Evaluators,
    audio_clip_outputs,
    load_evaluators,
    sync_clip_score,
    wav_to_mel,
)
from openfoley.evaluation.metrics import (
    ONSET_SR,
    align_accuracy,
    event_time_error,
    fad,
    kld,
    onset_detect,
    onset_scores,
)
from openfoley.io import read_audio, read_video

log = logging.getLogger(__name__)
SUFFIX = ".mp4"


def find_pairs(generated_dir: str | Path, reference_dir: str | Path) -> tuple[list[str], dict[str, list[str]]]:
    """-> (sorted names present in both folders, {"generated_only": [...], "reference_only": [...]})."""
    names = {}
    for role, d in (("generated", Path(generated_dir)), ("reference", Path(reference_dir))):
        if not d.exists():
            raise DataError(f"{d}: {role} folder not found")
        if not d.is_dir():
            raise DataError(f"{d}: {role} path is not a folder")
        found = {p.name for p in d.iterdir() if p.suffix.lower() == SUFFIX and p.is_file()}
        if not found:
            raise DataError(f"{d}: no {SUFFIX} files in the {role} folder")
        names[role] = found
    both = sorted(names["generated"] & names["reference"])
    unmatched = {"generated_only": sorted(names["generated"] - names["reference"]),
                 "reference_only": sorted(names["reference"] - names["generated"])}
    if not both:
        g, r = sorted(names["generated"])[0], sorted(names["reference"])[0]
        raise DataError(f"{generated_dir}: no file name matches one in {reference_dir} (e.g. {g!r} vs {r!r}); "
                        f"generated and reference files must share names")
    return both, unmatched


def _true_events(reference_dir: Path, name: str) -> list[float] | None:
    p = reference_dir / f"{Path(name).stem}.json"
    if not p.is_file():
        return None
    try:
        events = json.loads(p.read_text()).get("events")
        return [float(e["time"]) for e in events] if isinstance(events, list) else None
    except (json.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        log.warning("%s: ground truth without readable event times; ignored", p)
        return None


def _side(path: Path, ev: Evaluators, seconds: float, audio: torch.Tensor | None = None) -> dict[str, Any]:
    """One file's evaluator outputs over its first ``seconds``: class probabilities (C,), FAD window
    embeddings (N, d), sync score (or None), detected onsets and the onset-rate waveform. ``audio``: the
    file's audio at the audio classifier's rate when already decoded. Raises MediaError naming the file."""
    a_sr = ev.audio.cfg.audio.sample_rate
    if audio is None:
        audio = read_audio(path, a_sr, duration=seconds)
    probs, emb = audio_clip_outputs(ev.audio, audio)
    align = None
    if ev.sync is not None:
        s_cfg = ev.sync.cfg
        wav = audio if s_cfg.audio.sample_rate == a_sr else read_audio(path, s_cfg.audio.sample_rate, duration=seconds)
        frames = read_video(path, s_cfg.fps, s_cfg.size, duration=seconds, resize=s_cfg.resize).frames
        align = sync_clip_score(ev.sync, frames, wav_to_mel(wav, s_cfg.audio))
    onset_wav = read_audio(path, ONSET_SR, duration=seconds).numpy()
    return {"probs": probs, "emb": emb, "align": align, "onsets": onset_detect(onset_wav, ONSET_SR),
            "onset_wav": onset_wav}


def _reference_side(ref: Path, ev: Evaluators, max_seconds: float | None) -> dict[str, Any]:
    """``_side`` of a reference file over its own audio length (cut to ``max_seconds``), plus ``seconds``."""
    a_sr = ev.audio.cfg.audio.sample_rate
    audio = read_audio(ref, a_sr)
    if max_seconds is not None:
        audio = audio[: round(max_seconds * a_sr)]
    if audio.numel() == 0:
        raise MediaError(f"{ref}: empty audio stream")
    seconds = audio.numel() / a_sr
    side = _side(ref, ev, seconds, audio)
    del side["onset_wav"]  # only the generated side's waveform is scored (onset AP); keeps caches small
    return {"seconds": seconds, **side}


def _clean(x: Any) -> Any:
    """JSON-safe: non-finite floats -> None, numpy scalars -> Python, recursively."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def evaluate_dirs(generated_dir: str | Path, reference_dir: str | Path,
                  evaluators: Evaluators | str | Path | None = None, *, max_seconds: float | None = None,
                  onset_tol: float = 0.1, reference_cache: dict | None = None) -> dict[str, Any]:
    """Score generated mp4s against references with matching names; -> a JSON-ready results dict.

    ``evaluators``: loaded ``Evaluators``, a folder of them, or None for the shipped ones.
    ``reference_cache``: a dict kept by a caller that scores several generated folders against the same
    references (``openfoley.benchmark``), so each reference is decoded and scored once.
    Keys: fad, kld, align_acc, align_acc_reference, sync_heldout (the sync classifier's own held-out
    accuracy), onset_acc, onset_detection_acc, onset_ap, event_time (or None), clips, evaluators
    (versions), skipped, unmatched, settings.
    """
    gdir, rdir = Path(generated_dir), Path(reference_dir)
    names, unmatched = find_pairs(gdir, rdir)
    ev = evaluators if isinstance(evaluators, Evaluators) else load_evaluators(evaluators)
    if max_seconds is not None and not max_seconds > 0:
        raise DataError(f"max_seconds must be > 0, got {max_seconds}")
    cache = {} if reference_cache is None else reference_cache

    p_ref, p_gen, e_ref, e_gen = [], [], [], []
    align_gen, align_ref = [], []
    on_ref, on_gen, on_wavs, event_errs = [], [], [], []
    skipped, used = [], []
    for name in names:
        key = (str((rdir / name).resolve()), max_seconds, tuple(sorted(ev.versions.items())))
        try:
            ref = cache.get(key) or _reference_side(rdir / name, ev, max_seconds)
            cache[key] = ref
            gen = _side(gdir / name, ev, ref["seconds"])
        except MediaError as e:
            log.warning("skipping %s: %s", name, e)
            skipped.append({"name": name, "error": str(e)})
            continue
        used.append(name)
        p_ref.append(ref["probs"])
        e_ref.append(ref["emb"])
        p_gen.append(gen["probs"])
        e_gen.append(gen["emb"])
        if ev.sync is not None:
            align_gen.append(gen["align"])
            align_ref.append(ref["align"])
        on_ref.append(ref["onsets"])
        on_gen.append(gen["onsets"])
        on_wavs.append(gen["onset_wav"])
        truth = _true_events(rdir, name)
        if truth is not None:
            event_errs.append(event_time_error(on_gen[-1], truth, tol=onset_tol))
    if not used:
        raise DataError(f"{gdir}: none of the {len(names)} matching pairs could be read "
                        f"(first error: {skipped[0]['error']})")

    emb_ref, emb_gen = torch.cat(e_ref), torch.cat(e_gen)  # (N, d) windows of all clips
    onsets = onset_scores(on_ref, on_gen, on_wavs, ONSET_SR, tol=onset_tol)
    event_time = None
    if event_errs:
        event_time = {k: float(np.nanmean([getattr(e, k) for e in event_errs])) if any(
            math.isfinite(getattr(e, k)) for e in event_errs) else float("nan")
            for k in ("mae", "precision", "recall", "f1")}
        event_time["clips"] = len(event_errs)
    heldout = (ev.sync_meta.get("report") or {}).get("heldout")
    audio_report = ev.audio_meta.get("report") or {}
    results = {
        "clips": len(used),
        "fad": fad(emb_ref, emb_gen) if min(len(emb_ref), len(emb_gen)) >= 2 else float("nan"),
        "fad_windows": [len(emb_ref), len(emb_gen)],
        "kld": kld(torch.stack(p_ref), torch.stack(p_gen)),
        "align_acc": align_accuracy(np.array(align_gen)) if ev.sync is not None else None,
        "align_acc_reference": align_accuracy(np.array(align_ref)) if ev.sync is not None else None,
        "sync_heldout": heldout,
        "onset_acc": onsets.count_acc,
        "onset_detection_acc": onsets.detection_acc,
        "onset_ap": onsets.ap,
        "onset_clips_scored": onsets.n_clips_scored,
        "event_time": event_time,
        "evaluators": {**ev.versions, "audio_val_accuracy": audio_report.get("val_accuracy")},
        "skipped": skipped,
        "unmatched": unmatched,
        "settings": {"generated": str(gdir), "reference": str(rdir), "max_seconds": max_seconds,
                     "onset_tol": onset_tol, "onset_sr": ONSET_SR,
                     "audio_classifier": asdict(ev.audio.cfg.audio),
                     "sync": None if ev.sync is None else
                     {"fps": ev.sync.cfg.fps, "size": ev.sync.cfg.size, "window": ev.sync.cfg.window}},
        "per_clip": {"names": used, "align_score": align_gen, "align_score_reference": align_ref},
    }
    return _clean(results)


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.4f}"
    return str(x)


def format_table(results: dict[str, Any]) -> str:
    """A plain-text table of the headline numbers (what ``openfoley evaluate`` prints)."""
    held = results.get("sync_heldout") or {}
    rows = [
        ("clips", results["clips"], ""),
        ("FAD", results["fad"], "lower is better (own audio embedding)"),
        ("KLD", results["kld"], "lower is better (own audio classifier)"),
        ("Align Acc", results["align_acc"], f"sync classifier held-out accuracy {_fmt(held.get('accuracy'))}"
         if results["align_acc"] is not None else "no sync classifier in this evaluators folder"),
        ("Align Acc (reference)", results["align_acc_reference"], "real audio: the ceiling on this data"),
        ("Onset Acc", results["onset_acc"], "onset count accuracy"),
        ("Onset detection acc", results["onset_detection_acc"], ""),
        ("Onset AP", results["onset_ap"], ""),
    ]
    et = results.get("event_time")
    if et:
        rows.append(("Event-time MAE (s)", et["mae"], f"F1 {_fmt(et['f1'])} over {et['clips']} clips"))
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {_fmt(val):>8}  {note}".rstrip() for name, val, note in rows]
    ev = results.get("evaluators", {})
    lines.append(f"evaluators: audio {ev.get('audio')}, sync {ev.get('sync')}")
    if results.get("skipped"):
        lines.append(f"skipped {len(results['skipped'])} unreadable pair(s): "
                     + "; ".join(f"{s['name']} ({s['error']})" for s in results["skipped"][:3]))
    um = results.get("unmatched", {})
    n_um = len(um.get("generated_only", [])) + len(um.get("reference_only", []))
    if n_um:
        lines.append(f"{n_um} file(s) without a partner left out (see 'unmatched' in the JSON)")
    return "\n".join(lines)
