"""Export a trained CFM model to the lite runtime's files: two ONNX graphs and a small numpy archive.

    export_lite(model_dir, out_dir)   # needs torch + onnx; the lite runtime itself needs neither

The lite runtime (``openfoley.lite.runtime``) runs generation with numpy and ONNX Runtime, without
importing torch (whose import alone is most of a short clip's wall time, docs/generate.md). What runs
a network is exported; what is cheap arithmetic stays in numpy there:

``condition.onnx``  frames uint8 (1, T, 3, H, W) of one window ->
    the velocity network's ``prepare``d condition for three branches at once, in the order
    [conditional, null (CFG), local (Eq. 7: each token sees its nearest key frames)], flattened to
    named tensors ``cond.<field>`` (``cond.levels.<i>`` for tuple fields) with batch 3;
    ``onset`` (1, T) the onset head's prediction (zeros without an onset head, see ``meta``);
    ``key_index`` (1, k) int64 and ``key_saliency`` (1, T) float32, for the result and the plot.
``velocity.onnx``  x (r, n, p*f), t (r,), the prepared condition sliced to the same r branches ->
    v (r, n, p*f), the network's ``predict``; r is dynamic (1, 2 or 3).
``lite.npz``  the latent statistics ``mel_mean``/``mel_std`` (f,), the config as JSON text, and
    the format number. The CFG/refine combination, onset guidance (its gradient written out),
    inpainting, the Euler/Heun/midpoint steps, the latent -> log-mel map and the vocoder are numpy.

Only ``flow.kind = "cfm"`` models without ``audio.time_steps`` resampling are exported (the built-in
model and every ``small``/``tiny`` run); others raise ``ModelError`` and keep the torch pipeline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from openfoley.checkpoint import load_state_into, load_weights, replace_dir
from openfoley.errors import ModelError
from openfoley.flow.cfm import CFMGenerator
from openfoley.lite.cache import FILES, LITE_FORMAT, unsupported
from openfoley.model import FoleyModel

OPSET = 18


def flatten_prepared(prepared) -> tuple[list[str], list[Tensor]]:
    """A prepared condition (a dataclass of tensors and tuples of tensors) -> names, tensors."""
    names, tensors = [], []
    for f in dataclasses.fields(prepared):
        v = getattr(prepared, f.name)
        if isinstance(v, tuple):
            for i, x in enumerate(v):
                names.append(f"cond.{f.name}.{i}")
                tensors.append(x)
        else:
            names.append(f"cond.{f.name}")
            tensors.append(v)
    return names, tensors


def unflatten_prepared(cls, names: list[str], tensors: tuple[Tensor, ...]):
    """Inverse of ``flatten_prepared`` for the dataclass ``cls``."""
    single: dict[str, Tensor] = {}
    multi: dict[str, list[Tensor]] = {}
    for name, x in zip(names, tensors, strict=True):
        parts = name.split(".")
        if len(parts) == 3:
            multi.setdefault(parts[1], []).append(x)
        else:
            single[parts[1]] = x
    return cls(**single, **{k: tuple(v) for k, v in multi.items()})


def check_exportable(model: FoleyModel, where: str) -> CFMGenerator:
    """The model's CFM generator; ModelError for what the lite runtime does not cover."""
    why = unsupported(model.cfg)
    if why is not None:
        raise ModelError(f"{where}: the lite runtime cannot run this model: {why}; use --runtime torch")
    gen = model.generator
    assert isinstance(gen, CFMGenerator)  # flow.kind "cfm"
    return gen


class ConditionGraph(nn.Module):
    """frames uint8 (1, T, 3, H, W) [, event_frames uint8 (1, k T, 3, H, W) for a model whose event path reads
    its own frames, ``Config.event_rate`` k > 1] -> (*prepared condition (3 branches), onset (1, k T),
    key_index, key_saliency)."""

    def __init__(self, model: FoleyModel):
        super().__init__()
        self.model = model
        self.gen = check_exportable(model, "model")

    def prepared(self, frames: Tensor, event_frames: Tensor | None = None):
        m, gen = self.model, self.gen
        vc = m.video_condition(frames, event_frames=event_frames)
        prep = gen.net.prepare(*gen.branches(vc.flow, need_uncond=True, refine=True))  # cond, null, local
        onset = vc.onset if vc.onset is not None else torch.zeros(frames.shape[:2], device=frames.device)
        return prep, onset, vc.keys.indices, vc.keys.saliency

    def forward(self, frames: Tensor, event_frames: Tensor | None = None):
        prep, onset, idx, sal = self.prepared(frames, event_frames)
        return (*flatten_prepared(prep)[1], onset, idx, sal.float())


class VelocityGraph(nn.Module):
    """(x (r, n, p*f), t (r,), *prepared condition (r branches)) -> v (r, n, p*f)."""

    def __init__(self, model: FoleyModel, prepared_cls, names: list[str]):
        super().__init__()
        self.net = check_exportable(model, "model").net
        self.cls, self.names = prepared_cls, names

    def forward(self, x: Tensor, t: Tensor, *cond: Tensor) -> Tensor:
        return self.net.predict(x, t, unflatten_prepared(self.cls, self.names, cond))


def load_model(model_dir: str | os.PathLike) -> FoleyModel:
    """A weights folder -> the FoleyModel in eval mode (ModelError as ``FoleyPipeline.from_pretrained``)."""
    lw = load_weights(Path(model_dir))
    model = FoleyModel(lw.config)
    load_state_into(model, lw.state, str(model_dir))
    if model.needs_stats():
        raise ModelError(f"{model_dir}: weights were never trained (no latent statistics stored)")
    return model.eval()


@torch.no_grad()
def export_lite(model_dir: str | os.PathLike, out_dir: str | os.PathLike) -> Path:
    """Write ``lite.cache.FILES`` for the model in ``model_dir`` into ``out_dir`` (atomically: a temporary folder
    renamed into place). Returns ``out_dir``."""
    import warnings

    model = load_model(model_dir)
    check_exportable(model, str(model_dir))
    cfg = model.cfg
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        frames = torch.zeros(1, cfg.video_frames, 3, cfg.video.size, cfg.video.size, dtype=torch.uint8)
        inputs: tuple[Tensor, ...] = (frames,)
        if cfg.event_rate > 1:  # the event path's own frames: a second input
            inputs += (torch.zeros(1, cfg.event_frames, 3, cfg.video.size, cfg.video.size, dtype=torch.uint8),)
        cg = ConditionGraph(model)
        prep, *_ = cg.prepared(*inputs)
        names, tensors = flatten_prepared(prep)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(cg, inputs, str(tmp / "condition.onnx"),
                              input_names=["frames", "event_frames"][:len(inputs)],
                              output_names=[*names, "onset", "key_index", "key_saliency"], opset_version=OPSET,
                              dynamo=False)
            vg = VelocityGraph(model, type(prep), names)
            r = tensors[0].shape[0]
            x = torch.zeros(r, cfg.audio_tokens, cfg.audio_token_dim)
            t = torch.full((r,), 0.5)
            dyn = {name: {0: "r"} for name in ["x", "t", *names]} | {"v": {0: "r"}}
            torch.onnx.export(vg, (x, t, *tensors), str(tmp / "velocity.onnx"), input_names=["x", "t", *names],
                              output_names=["v"], opset_version=OPSET, dynamic_axes=dyn, dynamo=False)
        np.savez(tmp / "lite.npz", mel_mean=model.mel_mean.numpy(), mel_std=model.mel_std.numpy(),
                 config=np.array(json.dumps(cfg.to_dict())), cond_names=np.array(names),
                 format=np.array(LITE_FORMAT))
        if all((out / f).is_file() for f in FILES):
            return out  # another process built the same export meanwhile: keep its files, drop ours
        if out.exists():
            replace_dir(tmp, out)  # a partial folder (an interrupted copy): replace it
        else:
            try:
                tmp.rename(out)
            except OSError:
                if not all((out / f).is_file() for f in FILES):
                    raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out
