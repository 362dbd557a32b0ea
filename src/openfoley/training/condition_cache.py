"""Cached generator inputs for training the velocity network with the video side frozen.

The condition of a frozen model does not change, so a generator stage (``scripts/fit-global-route.py``,
``benchmarks/class_oracle.py``) computes each clip's condition and latent once and then trains on the
cache: a step is one pass of the velocity network (docs/sync-diagnosis.md parts 24-25).
"""

from __future__ import annotations

import time
from typing import Any

import torch

from openfoley.nn.patches import patchify

BATCH = 8


def cache_conditions(model, store: Any, clips: int, labels: list[str] | None = None,
                     log_every: int = 25) -> dict[str, torch.Tensor]:
    """store[0 .. clips) (items with ``frames`` (t, 3, H, W) and ``mel`` (f, m)) through ``model`` (a
    ``FoleyModel``) -> stacked over clips: ``tokens``, ``keys``, ``key_times``, ``key_mask`` (its flow
    condition) and ``x1`` (b, n, p*f), the normalised, patchified latent; with ``labels`` also ``cls`` (b,),
    each item's ``label`` as an index into ``labels``. Prints progress every ``log_every`` batches of 8."""
    out: dict[str, list[torch.Tensor]] = {}
    t0 = time.perf_counter()
    for i in range(0, clips, BATCH):
        items = [store[j] for j in range(i, min(clips, i + BATCH))]
        with torch.no_grad():
            c = model.video_condition(torch.stack([it["frames"] for it in items]), track=False).flow
            x1 = patchify(model.model_mel(torch.stack([it["mel"] for it in items])), model.cfg.encoder.audio_patch)
        parts = [("tokens", c.tokens), ("keys", c.keys), ("key_times", c.key_times), ("key_mask", c.key_mask),
                 ("x1", x1)]
        if labels is not None:
            parts.append(("cls", torch.tensor([labels.index(it["label"]) for it in items])))
        for k, v in parts:
            out.setdefault(k, []).append(v)
        if (i // BATCH) % log_every == 0:
            print(f"  cached {i + len(items)} / {clips} clips, {time.perf_counter() - t0:.0f} s", flush=True)
    return {k: torch.cat(v) for k, v in out.items()}
