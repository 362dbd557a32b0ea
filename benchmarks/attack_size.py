"""How big is an event's attack: predicted, asked for, made, real? (docs/sync-diagnosis.md part 31)

    python benchmarks/attack_size.py --store data/store-small-test-closed \
        runs/bench-h1.2/test-closed/full/seed-0 runs/bench-h1.6/test-closed/full/seed-0 [...] --every 2

The "sharp" onset guide asks each predicted event of the rise ``flow.onset_peak_height`` into one mel
frame (docs/flow.md). This measures, at the events (the peaks of the model's onset track at or above
``flow.onset_peak_threshold``, from the store's frames of each clip):

- **track**: the onset track's value at the peak (the head is trained to regress the audio's rise,
  ``onset_target``), so it is what the video predicts the attack to be;
- **real**: the real audio's rise (``mel_flux`` of the store's normalised log-mel) at the mel frame the
  guide targets (the video frame's first), and the largest rise within two mel frames of it;
- **made**, for each folder of generated mp4s (an ``openfoley benchmark`` row, OUT/SPLIT/ROW/seed-K): the
  same two rises of the generated audio, decoded from the mp4 through the same log-mel and normalisation.

Prints, per source, the median and mean of each over the events (and over the events whose track value is
in three bands), so "asked 1.6, made X, real Y" can be read off per split.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch


def rises(flux: torch.Tensor, frames: torch.Tensor, t: int) -> tuple[np.ndarray, np.ndarray]:
    """flux (m,) per mel frame, event video frames (e,) of t -> (at the guide's mel frame, the largest within
    two mel frames of it), each (e,)."""
    m = flux.shape[0]
    at, near = [], []
    for k in frames.tolist():
        s = k * m // t
        at.append(float(flux[s]))
        near.append(float(flux[max(0, s - 2): s + 3].max()))
    return np.asarray(at), np.asarray(near)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("generated", nargs="*", help="folders of generated mp4s named like the store's clip ids")
    ap.add_argument("--store", required=True, help="feature store of the split (frames and real log-mel)")
    ap.add_argument("--model", default="builtin", help="weights whose onset track gives the events")
    ap.add_argument("--every", type=int, default=1, help="use every k-th clip of the store (default: all)")
    args = ap.parse_args(argv)

    from sync_check import load_onset_model, store_event_frames

    from openfoley.alignment.mma import mel_flux
    from openfoley.errors import OpenFoleyError
    from openfoley.features.mel import log_mel
    from openfoley.features.store import FeatureStore
    from openfoley.io import read_audio
    from openfoley.pipeline.windows import onset_peaks

    folders = [Path(g) for g in args.generated]
    for g in [Path(args.store), *folders]:
        if not g.is_dir():
            print(f"error: {g} is not a folder", file=sys.stderr)
            return 2
    if args.every < 1:
        print(f"error: --every must be >= 1, got {args.every}", file=sys.stderr)
        return 2
    try:
        store = FeatureStore(args.store)
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    missing = [g / f"{store.ids[i]}.mp4" for g in folders for i in range(0, len(store), args.every)
               if not (g / f"{store.ids[i]}.mp4").is_file()]
    if missing:
        print(f"error: {missing[0]} not found ({len(missing)} clips of the store missing in the folders)",
              file=sys.stderr)
        return 2
    pipe = load_onset_model(args.model, "no events to measure at")
    if pipe is None:
        return 2
    model, cfg = pipe.model, pipe.model.cfg
    track_v: list[np.ndarray] = []
    real: list[tuple[np.ndarray, np.ndarray]] = []
    made: dict[Path, list[tuple[np.ndarray, np.ndarray]]] = {g: [] for g in folders}
    n_samples = cfg.mel_frames * cfg.audio.hop_length
    for i in range(0, len(store), args.every):
        it = store[i]
        with torch.no_grad():
            ev_frames = store_event_frames(store, [i], cfg)  # the event path's own frames, or None
            track = model.video_condition(it["frames"][None], event_frames=ev_frames).onset[0].float()  # (k t,)
            ev = torch.from_numpy(onset_peaks(track.numpy(), cfg.flow.onset_peak_threshold))  # the guide's events
            t = track.shape[0]
            track_v.append(track[ev].numpy())
            real.append(rises(mel_flux(model.model_mel(it["mel"][None]))[0], ev, t))
            for g in folders:
                wav = read_audio(g / f"{it['id']}.mp4", cfg.audio.sample_rate)
                wav = torch.nn.functional.pad(wav, (0, max(0, n_samples - wav.numel())))[:n_samples]
                mel = log_mel(wav, cfg.audio)[None]  # (1, f, m_native)
                made[g].append(rises(mel_flux(model.model_mel(mel))[0], ev, t))

    tv = np.concatenate(track_v)
    bands = [(cfg.flow.onset_peak_threshold, 0.6), (0.6, 1.0), (1.0, np.inf)]

    def line(name: str, pairs: list[tuple[np.ndarray, np.ndarray]]) -> str:
        at, near = np.concatenate([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs])
        by_band = " ".join(f"{np.median(near[(tv >= a) & (tv < b)]):.2f}" if ((tv >= a) & (tv < b)).any() else "-"
                           for a, b in bands)
        return (f"{name:<48} at {np.median(at):5.2f} / {at.mean():5.2f}   near {np.median(near):5.2f} / "
                f"{near.mean():5.2f}   near by track band: {by_band}")

    print(f"{args.store}: {len(tv)} events in {len(track_v)} clips; track at the events: median "
          f"{np.median(tv):.2f}, mean {tv.mean():.2f}; bands {', '.join(f'[{a}, {b})' for a, b in bands)} hold "
          f"{', '.join(str(int(((tv >= a) & (tv < b)).sum())) for a, b in bands)}")
    print("rise into the guide's mel frame ('at') and the largest within 2 mel frames ('near'): median / mean")
    print(line("real audio", real))
    for g in folders:
        print(line(str(g), made[g]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
