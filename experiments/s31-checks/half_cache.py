"""Build part of fit-global-route.py's condition cache: clips [lo, hi) of LiveStore.for_training(bank, cfg,
walkers, seed) through the weights' frozen video side; join the parts with --join into the script's format.

    python runs/s31/half_cache.py part WEIGHTS LO HI OUT.pt [--seed 63]
    python runs/s31/half_cache.py join WEIGHTS CLIPS OUT.pt PART.pt ... [--seed 63]"""
import sys, time
from pathlib import Path
import torch
from openfoley.checkpoint import load_weights
from openfoley.data.foleyworld.live import LiveStore
from openfoley.model import FoleyModel
from openfoley.training.condition_cache import cache_conditions

args = sys.argv[1:]
seed = 63
if "--seed" in args:
    i = args.index("--seed"); seed = int(args[i + 1]); del args[i:i + 2]
cmd, weights = args[0], args[1]
if cmd == "part":
    lo, hi, out = int(args[2]), int(args[3]), args[4]
    w = load_weights(weights)
    model = FoleyModel(w.config); model.load_state_dict(w.state); model.eval()
    torch.set_grad_enabled(False)
    store = LiveStore.for_training("data/bank", model.cfg, walkers=0.5, seed=seed)

    class Shifted:
        def __getitem__(self, j):
            return store[lo + j]

    data = cache_conditions(model, Shifted(), hi - lo)
    torch.save(data, out)
else:
    clips, out, parts = int(args[2]), args[3], args[4:]
    ds = [torch.load(p) for p in parts]
    data = {k: torch.cat([d[k] for d in ds]) for k in ds[0]}
    assert data["x1"].shape[0] == clips, data["x1"].shape
    key = {"weights": str(Path(weights).resolve()), "clips": clips, "seed": seed, "walkers": 0.5}
    torch.save({"key": key, "data": data}, out)
    print("joined", {k: tuple(v.shape) for k, v in data.items()})
