"""FoleyPipeline: a video (file or frames) of any length in, a waveform out.

    pipe = FoleyPipeline.from_pretrained("builtin")          # or a weights / training-run folder
    result = pipe("clip.mp4", steps=16, seed=0)              # FoleyResult: wav (s,), sample_rate, ...

Per window of ``cfg.seconds`` (``windows.plan_windows``): decode the window's frames (``io``, one
window held at a time), pad a short last window by repeating its last frame, align and condition
(``FoleyModel.align`` / ``condition``), sample the latent with the generator, log-mel, vocode, and
crossfade the waveform into the output (``windows.Stitcher``). The sound carries across windows by
flow-path inpainting (CFM): the overlap tokens of window j+1 are constrained to window j's generated
latent (``CFMGenerator.sample(known=..., known_mask=...)``), so window j+1 continues what window j
made instead of starting afresh; the other generators (coupling, nf, ddpm) have no such path and get
the crossfade alone (docs/generate.md). Randomness: one ``torch.Generator`` seeded with ``seed`` on the
CPU, drawn from window after window, so a seed gives the same sound on any device.

Memory is bounded by one window of frames; what grows with the video is the output itself (waveform
and log-mel, ~80 kB per second for ``small``), the key-frame times and a few thumbnails for the plot.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from openfoley.checkpoint import load_state_into, load_weights
from openfoley.config import Config
from openfoley.errors import ConfigError, MediaError, ModelError
from openfoley.io import iter_video_windows
from openfoley.model import FoleyModel
from openfoley.pipeline.folders import BUILTIN, resolve_model_dir
from openfoley.pipeline.result import FoleyResult, ResultBuilder, file_span, frame_pairs, hold_last, paired_windows
from openfoley.pipeline.windows import WindowPlan, plan_windows
from openfoley.vocoder import Vocoder, build_vocoder

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (CUDA, else Apple MPS, else CPU), "cpu", "cuda", "cuda:N" or "mps"; ConfigError if absent."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        return torch.device("mps" if mps is not None and mps.is_available() else "cpu")
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} asked for, but CUDA is not available here "
                              "(no NVIDIA GPU/driver, or a CPU-only torch); use --device cpu or auto")
        if d.index is not None and d.index >= torch.cuda.device_count():
            raise ConfigError(f"device {device!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
    elif d.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ConfigError(f"device {device!r} asked for, but Apple MPS is not available here; use --device cpu")
    elif d.type != "cpu":
        raise ConfigError(f"unsupported device {device!r}; use auto, cpu, cuda, cuda:N or mps")
    return d


@dataclass
class WindowOutput:
    """One generated window. ``first_frame``: its first grid frame (0 = ``start``); ``real_frames``:
    frames from the video (the rest is padding). latent (n, p*f), mel (f, m_native), wav (s,) are CPU
    tensors; key_index / key_saliency (k,) the window's key frames; ``timings`` seconds per stage."""

    index: int
    first_frame: int
    real_frames: int
    latent: Tensor
    mel: Tensor
    wav: Tensor
    key_index: Tensor
    key_saliency: Tensor
    frames: Tensor  # uint8 (T, 3, H, W), padded; dropped by the stitcher after use
    timings: dict[str, float]
    # (k T,) the onset track (None without an onset head); k = cfg.event_rate values per frame
    onset: Tensor | None = None


@dataclass
class _Source:
    """Frames to generate for: ``n`` grid frames from ``start``, read window by window."""

    name: str
    start: float
    n: int
    seconds: float  # the span the output covers (<= n / fps)
    # yields per window uint8 (t <= T, 3, H, W), and for a model whose event path reads its own frames
    # (cfg.event_rate k > 1) the same span at k times the rate, (u <= k T, 3, H, W); else None
    clips: Callable[[WindowPlan], Iterator[tuple[Tensor, Tensor | None]]]


class FoleyPipeline:
    """Model + vocoder + window plan on one device. ``__call__`` generates; ``windows`` streams."""

    def __init__(self, model: FoleyModel, vocoder: Vocoder | None = None, device: str | torch.device = "auto",
                 overlap: float | None = None, name: str = "model"):
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.cfg: Config = model.cfg
        self.vocoder = vocoder if vocoder is not None else build_vocoder("auto", self.cfg.audio)
        if hasattr(self.vocoder, "to"):
            self.vocoder.to(self.device)
        self.plan = plan_windows(self.cfg, overlap)
        self.name = name
        self.inpaints = self.model.inpaints

    @classmethod
    def from_pretrained(cls, path: PathLike | None = BUILTIN, device: str | torch.device = "auto",
                        vocoder: str = "auto", vocoder_weights: PathLike | None = None,
                        overlap: float | None = None) -> FoleyPipeline:
        """Load "builtin" (``openfoley/assets/model-small``), a weights folder or a training run folder.

        ModelError when the folder is missing, is not a model, or its config/weights do not match this
        version of the code; ConfigError for a device that is not available.
        """
        dev = resolve_device(device)  # refuse an absent device before reading any weights
        folder = resolve_model_dir(path)
        lw = load_weights(folder)
        try:
            model = FoleyModel(lw.config)
        except ConfigError as e:
            raise ModelError(f"{folder}: config does not match this version of OpenFoley ({e})") from None
        load_state_into(model, lw.state, str(folder))
        if model.needs_stats():
            raise ModelError(f"{folder}: weights were never trained (no latent statistics stored)")
        voc = build_vocoder(vocoder, lw.config.audio, vocoder_weights)
        return cls(model, voc, dev, overlap=overlap, name=str(folder))

    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sample_rate

    # --- inputs ----------------------------------------------------------------------------------
    def _source(self, video, start: float, duration: float | None) -> _Source:
        c = self.cfg
        fps, size = c.video.fps, c.video.size
        if start < 0 or (duration is not None and not duration > 0):
            raise ConfigError(f"start must be >= 0 and duration > 0, got start={start}, duration={duration}")
        k = c.event_rate
        if isinstance(video, torch.Tensor):
            if video.dtype != torch.uint8 or video.dim() != 4 or tuple(video.shape[1:]) != (3, size, size):
                raise MediaError(f"frames must be uint8 (t, 3, {size}, {size}) at {fps * k:g} fps, "
                                 f"got {video.dtype} {tuple(video.shape)}")
            n, seconds, pairs = frame_pairs(video, self.plan, k, start, duration)
            return _Source("frames", start, n, seconds, lambda _plan: pairs)
        path = Path(video)
        n, span = file_span(path, fps, start, duration)

        def read(plan: WindowPlan, rate: float) -> Iterator[Tensor]:
            for clip in iter_video_windows(path, rate, size, window=plan.window_seconds, hop=plan.hop_seconds,
                                           resize=c.video.resize, start=start, duration=n / fps):
                yield clip.frames

        def from_file(plan: WindowPlan) -> Iterator[tuple[Tensor, Tensor | None]]:
            if k == 1:
                yield from ((w, None) for w in read(plan, fps))
                return
            # one decode at k times the rate: the event path's frames, every k-th the model's
            yield from paired_windows(read(plan, fps * k), k)

        return _Source(str(path), start, n, span, from_file)

    @property
    def has_onset_head(self) -> bool:
        """Whether the model predicts onset strength from video (what onset guidance steers towards)."""
        return self.model.mma is not None and self.model.mma.onset_head is not None

    # --- generation ------------------------------------------------------------------------------
    def windows(self, video, *, steps: int | None = None, cfg_scale: float | None = None,
                solver: str | None = None, seed: int = 0, start: float = 0.0,
                duration: float | None = None, onset_guidance: float | None = None) -> Iterator[WindowOutput]:
        """Generate window by window (see the module docstring); each item is one ``WindowOutput``."""
        src = self._source(video, start, duration)
        yield from self._windows(src, steps, cfg_scale, solver, seed, onset_guidance)

    @torch.no_grad()
    def _windows(self, src: _Source, steps, cfg_scale, solver, seed: int,
                 onset_guidance: float | None = None) -> Iterator[WindowOutput]:
        plan, model = self.plan, self.model
        gen = torch.Generator().manual_seed(int(seed))
        dev = self.device
        clips = src.clips(plan)
        prev: Tensor | None = None
        o = plan.overlap_tokens
        for j in range(plan.count(src.n)):
            t0 = time.perf_counter()
            got = next(clips, None)
            if got is None:
                raise MediaError(f"{src.name}: the video ended before window {j + 1} (fewer frames than probed)")
            frames, ev_frames = got
            t1 = time.perf_counter()
            real = frames.shape[0]
            if real < plan.frames:  # a short last window: hold the last frame
                frames = torch.cat([frames, frames[-1:].expand(plan.frames - real, -1, -1, -1)])
            x = frames[None].to(dev)  # (1, T, 3, H, W)
            # the event path's frames (1, k T, 3, H, W), held the same way
            ev = None if ev_frames is None else hold_last(ev_frames, self.cfg.event_frames)[None].to(dev)
            vc = model.video_condition(x, event_frames=ev)
            t2 = time.perf_counter()
            known = mask = None
            if prev is not None and o > 0 and model.inpaints:
                known = torch.zeros_like(prev)
                known[:, :o] = prev[:, -o:]
                mask = torch.zeros(1, plan.tokens, dtype=torch.bool, device=dev)
                mask[:, :o] = True
            x1 = model.sample_latent(vc, gen, steps=steps, solver=solver, cfg_scale=cfg_scale, known=known,
                                     known_mask=mask, onset_guidance=onset_guidance)
            mel = model.latent_to_mel(x1)  # (1, f, m_native)
            t3 = time.perf_counter()
            wav = self.vocoder(mel)  # (1, S)
            if tuple(wav.shape) != (1, plan.samples):
                raise RuntimeError(f"vocoder returned {tuple(wav.shape)}, expected (1, {plan.samples})")
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t4 = time.perf_counter()
            prev = x1
            yield WindowOutput(index=j, first_frame=j * plan.hop_frames, real_frames=real,
                               latent=x1[0].cpu(), mel=mel[0].float().cpu(), wav=wav[0].float().cpu(),
                               key_index=vc.keys.indices[0].cpu(), key_saliency=vc.keys.saliency[0].cpu(),
                               frames=frames,
                               timings={"decode": t1 - t0, "encoders": t2 - t1, "flow": t3 - t2, "vocoder": t4 - t3},
                               onset=None if vc.onset is None else vc.onset[0].float().cpu())

    def __call__(self, video, steps: int | None = None, cfg_scale: float | None = None, solver: str | None = None,
                 seed: int = 0, start: float = 0.0, duration: float | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 onset_guidance: float | None = None) -> FoleyResult:
        """Generate the sound for ``video``: a path (any container/fps/size/rotation ``io.probe`` reads) or
        uint8 frames (t, 3, H, W) already at the model's size and
        fps (for a model whose event path reads its own frames, ``alignment.event_fps``: at that rate, every
        k-th frame the model's). ``start``/``duration`` pick a
        section (seconds). ``progress(done, total)`` is called once with done = 0 before the first window,
        then after each window. None settings take the
        model config's values (``flow.steps``, ``flow.cfg_scale``, ``flow.solver``, ``flow.onset_guidance``)."""
        src = self._source(video, start, duration)
        total = self.plan.count(src.n)
        out = ResultBuilder(self.plan, src.start, src.seconds, self.cfg.audio.n_mels,
                            self.sample_rate / self.cfg.audio.hop_length, self.cfg.flow.onset_peak_threshold)
        if progress is not None:
            progress(0, total)  # the total before the first window, so a bar can show it (and then an ETA)
        for w in self._windows(src, steps, cfg_scale, solver, seed, onset_guidance):
            out.add(w.index, w.first_frame, w.real_frames, w.wav.numpy(), w.mel.numpy(), w.key_index.numpy(),
                    w.key_saliency.numpy(), w.frames.numpy(), w.timings,
                    None if w.onset is None else w.onset.numpy())
            if progress is not None:
                progress(w.index + 1, total)
        return out.result(src.name, total, seed, settings={
            "steps": steps if steps is not None else self.cfg.flow.steps,
            "cfg_scale": cfg_scale if cfg_scale is not None else self.cfg.flow.cfg_scale,
            "solver": solver if solver is not None else self.cfg.flow.solver,
            "onset_guidance": (onset_guidance if onset_guidance is not None
                               else self.cfg.flow.onset_guidance) if self.has_onset_head else 0.0,
            "model": self.name, "vocoder": getattr(self.vocoder, "name", "?"),
            "overlap_tokens": self.plan.overlap_tokens, "inpainting": self.inpaints, "runtime": "torch"})
