"""FAD of a benchmark's generated files against their reference after a post-process of the generated audio.

    python runs/s31/fad_post.py GEN_DIR REF_DIR
Prints per-1-s-window level percentiles of both sides and FAD (mean term, trace term) for each transform."""
import sys
from pathlib import Path
import numpy as np
import torch
from openfoley.evaluation.evaluators import load_evaluators, audio_clip_outputs
from openfoley.evaluation.metrics import fad
from openfoley.io import read_audio

gen_dir, ref_dir = Path(sys.argv[1]), Path(sys.argv[2])
ev = load_evaluators()
sr = ev.audio.cfg.audio.sample_rate
names = sorted(p.name for p in gen_dir.glob("*.mp4"))
refs = {p.stem: p for p in ref_dir.iterdir() if p.suffix in (".mp4", ".wav")}
torch.set_grad_enabled(False)

def emb_of(wav):
    return audio_clip_outputs(ev.audio, torch.as_tensor(wav, dtype=torch.float32))[1].numpy()

def levels(wavs):
    out = []
    for w in wavs:
        n = len(w) // sr
        for i in range(n):
            seg = w[i * sr:(i + 1) * sr]
            out.append(10 * np.log10(np.mean(seg ** 2) + 1e-12))
    return np.percentile(out, [10, 25, 50, 75, 90])

gen = [read_audio(gen_dir / n, sr).numpy() for n in names]
ref = [read_audio(refs[Path(n).stem], sr).numpy()[: len(g)] for n, g in zip(names, gen)]
print("clips", len(gen), "sr", sr)
print("real levels p10/25/50/75/90", np.round(levels(ref), 1))
print("gen  levels p10/25/50/75/90", np.round(levels(gen), 1))
E_ref = np.concatenate([emb_of(w) for w in ref])

def split_fad(a, b):
    mu = np.sum((a.mean(0) - b.mean(0)) ** 2)
    return fad(torch.as_tensor(a), torch.as_tensor(b)), mu

def gate(w, floor_db, hop=320, ratio=4.0):
    """Downward expander on 20 ms frames: below floor_db (dBFS, frame RMS) the level falls ratio x faster."""
    n = len(w) // hop
    fr = w[: n * hop].reshape(n, hop)
    lvl = 10 * np.log10(np.mean(fr ** 2, 1) + 1e-12)
    g_db = np.where(lvl < floor_db, (lvl - floor_db) * (ratio - 1), 0.0)
    g = 10 ** (g_db / 20)
    gs = np.interp(np.arange(n * hop), np.arange(n) * hop + hop / 2, g)
    out = w.copy(); out[: n * hop] *= gs
    return out

tr = {"none": lambda w: w}
import os
if os.environ.get("GAIN"):
    for gdb in (2.0, 4.0, 6.0):
        tr[f"gain +{gdb:g} dB"] = (lambda k: lambda w: np.clip(w * k, -1, 1))(10 ** (gdb / 20))
else:
    for f in (-60, -55, -50, -45):
        tr[f"gate {f} dB"] = (lambda f: lambda w: gate(w, f))(f)
for name, fn in tr.items():
    g2 = [fn(w) for w in gen]
    E = np.concatenate([emb_of(w) for w in g2])
    f, mu = split_fad(E, E_ref)
    print(f"{name:14s} FAD {float(f):7.1f} mean term {mu:6.1f}  levels {np.round(levels(g2), 1)}", flush=True)
