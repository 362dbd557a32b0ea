"""Classify the video's predicted events on falling-object check clips by what happens in the render then.

    python runs/s31/false_events.py LOG.jsonl [LOG.jsonl ...]     (sync_check.py logs: video_event_times)
Each predicted event is 'hit' (within 0.1 s of a contact, matched one to one as the check does is not
needed here: nearest contact) or, if not, put in the first class that has a render happening within
2 frames (0.08 s): the object appearing at the top of its fall, its bounce landing, its vanishing after
the fade, a blink switch; 'near contact' if within 0.3 s of a contact; else 'other'."""
import json, sys
from collections import Counter
import numpy as np
sys.path.insert(0, "benchmarks")
from sync_check import kind_pool
from openfoley.config.tools import RenderConfig
from openfoley.data.foleyworld import sources as S, continuous as C
from openfoley.data.foleyworld.bank import load_bank
from openfoley.data.foleyworld.render import render_clip

made = []
_plan, _dinit = S.ImpactSource.plan, C.Distractor.__init__
def plan(self, rng, pick):
    _plan(self, rng, pick); made.append(self)
def dinit(self, *a, **k):
    _dinit(self, *a, **k); made.append(self)
S.ImpactSource.plan, C.Distractor.__init__ = plan, dinit

bank = load_bank("data/bank"); pool = kind_pool(bank, "impact")
cfg = RenderConfig(seconds=8.0, size=128, sample_rate=16000)
fps = 25.0
counts, missed = Counter(), Counter()
rows = []
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        for c in r["clips"]:
            made.clear()
            clip = render_clip(bank, pool, cfg, seed=r["seed"], split="test-closed", index=c["clip"], n_sources=1)
            src = [m for m in made if isinstance(m, S.ImpactSource)][-1]
            ks = [e.frame for e in src.events] if hasattr(src.events[0], "frame") else [e[0] for e in src.events]
            marks = {"appear": [k - src.fall for k in ks], "bounce landing": [k + src.bounce for k in ks],
                     "vanish": [k + src.bounce + src.rest + 1 for k in ks], "blink": []}
            for d in made:
                if isinstance(d, C.Distractor) and d.kind == "blink":
                    marks["blink"] += list(np.flatnonzero(np.diff(d.on.astype(int)) != 0) + 1)
            contacts = np.asarray(c["contacts"])
            for t in c["video_event_times"]:
                dc = np.min(np.abs(contacts - t)) if len(contacts) else 9
                if dc <= 0.1:
                    kind = "hit"
                else:
                    kind = "other"
                    for name, fr in marks.items():
                        if fr and np.min(np.abs(np.asarray(fr) / fps - t)) <= 2 / fps + 1e-9:
                            kind = name; break
                    if kind == "other" and dc <= 0.3:
                        kind = "near contact (0.1-0.3 s)"
                counts[kind] += 1
            ve = np.asarray(c["video_event_times"])
            missed["contacts"] += len(contacts)
            missed["missed (no video event within 0.1 s)"] += int(sum((np.min(np.abs(ve - t)) if len(ve) else 9) > 0.1 for t in contacts))
tot = sum(counts.values())
for k, v in counts.most_common():
    print(f"{k:28s} {v:4d}  {v / tot:.3f}")
print(dict(missed))
