"""Render one falling-object check clip (seed, index) and show its frames around contacts and predicted events."""
import sys, json
from pathlib import Path
import numpy as np
sys.path.insert(0, "benchmarks")
from sync_check import kind_pool, check_clip
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld.bank import load_bank
from openfoley.pipeline.core import FoleyPipeline

seed, index = int(sys.argv[1]), int(sys.argv[2])
out = Path(f"runs/s31/inspect-{seed}-{index}"); out.mkdir(parents=True, exist_ok=True)
bank = load_bank("data/bank"); pool = kind_pool(bank, "impact")
pipe = FoleyPipeline.from_pretrained("builtin", device="cpu")
cfg = RenderConfig(seconds=pipe.cfg.seconds, size=128, sample_rate=pipe.cfg.audio.sample_rate)
clip, path, truth = check_clip(bank, pool, cfg, seed, index, out)
print("class", clip.truth["class"])
print("truth keys", list(clip.truth.keys()))
for e in clip.truth["events"]: print("event", e)
for k, v in clip.truth.items():
    if k not in ("events",): print(k, json.dumps(v)[:400])
res = pipe(str(path), seed=0)
print("video events", np.round(res.video_events, 3).tolist())
np.save(out / "frames.npy", clip.frames)
tr = getattr(res, "onset_track", None)
print("result attrs", [a for a in dir(res) if not a.startswith("_")])
