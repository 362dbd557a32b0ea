"""Listenable progress: every ``train.sample_every`` steps, generate audio for a few validation clips.

For each of the first ``n`` clips of the validation store, the EMA model generates a log-mel from the
clip's frames (fixed seed, so samples are comparable across steps), a vocoder turns it into a wav, and a
PNG shows the generated spectrogram above the real one. Written to ``RUN/samples/step-XXXXXXXX/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from openfoley.config import Config
from openfoley.io import write_audio
from openfoley.io.image import colormap, write_png
from openfoley.model import FoleyModel
from openfoley.vocoder import build_vocoder


def spectrogram_png(top: np.ndarray, bottom: np.ndarray, scale: int = 2) -> np.ndarray:
    """Two log-mels (f, m) stacked (low frequencies at the bottom of each), as uint8 RGB (2f*s, m*s, 3)."""
    lo = min(top.min(), bottom.min())
    hi = max(top.max(), bottom.max())
    both = np.concatenate([top[::-1], np.full((2, top.shape[1]), lo), bottom[::-1]], axis=0)
    img = colormap((both - lo) / max(hi - lo, 1e-6))
    return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)


@torch.no_grad()
def write_samples(model: FoleyModel, store, cfg: Config, out_dir: str | Path, step: int, n: int = 2,
                  device: torch.device | str = "cpu", seed: int = 0) -> list[Path]:
    """Generate and write ``n`` validation samples (wav + png); returns the wav paths."""
    out = Path(out_dir) / f"step-{step:08d}"
    out.mkdir(parents=True, exist_ok=True)
    vocoder = build_vocoder("auto", cfg.audio)
    model.eval()
    paths = []
    for i in range(min(n, len(store))):
        item = store[i]
        frames = torch.as_tensor(item["frames"])[None].to(device)
        gen = torch.Generator(device=device).manual_seed(seed + i)
        mel, _ = model.generate(frames, gen)
        wav = vocoder(mel.float().cpu())[0]
        name = str(item.get("id", i))
        paths.append(write_audio(out / f"{name}.wav", wav, cfg.audio.sample_rate, force=True))
        real = torch.as_tensor(item["mel"], dtype=torch.float32).numpy()
        write_png(out / f"{name}.png", spectrogram_png(mel[0].float().cpu().numpy(), real), force=True)
    return paths
