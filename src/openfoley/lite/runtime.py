"""The lite runtime: generation with numpy and ONNX Runtime, without importing torch.

    pipe = LitePipeline.from_pretrained("builtin")      # builds the ONNX files once (lite.cache)
    result = pipe("clip.mp4", seed=0)                   # the same FoleyResult as FoleyPipeline's

Why: importing torch takes longer than generating the sound for a short clip on 2 cores
(docs/generate.md); numpy, PyAV and ONNX Runtime import in a fraction of that, and ONNX Runtime runs
this model's small networks faster than eager torch. What it runs is the torch pipeline's method, step
for step (``FoleyPipeline._windows``): per window, decode the frames, run ``condition.onnx`` (video
encoder, MMA, onset head, key frames, the velocity network's prepared condition for the conditional,
null and Eq. 7 local branches), integrate the flow ODE with ``velocity.onnx`` (classifier-free
guidance and the refinement term combined here, onset guidance with its gradient written out in
``onset_guide_grad``, inpainting of the overlap from the previous window), map the latent to a
log-mel and vocode it with Griffin-Lim (``lite.vocoder``), then stitch (``pipeline.result``).

Given the same starting noise it returns what the torch pipeline returns, up to float rounding
(tests/test_lite.py). Its noise is numpy's (PCG64 seeded with ``seed``), not torch's, so a seed gives
a different, equally valid sound in the two runtimes; within a runtime a seed always gives the same.

Shapes (package alphabet): b = 1 clip, r branches (1..3), n audio tokens, p mel frames per token,
f mel bins, m = n * p mel frames, t video frames, k key frames, s samples.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openfoley.config import Config, griffin_lim_name
from openfoley.errors import ConfigError, MediaError, ModelError
from openfoley.io import iter_frame_windows
from openfoley.lite.vocoder import log_mel_to_wav
from openfoley.pipeline.result import FoleyResult, ResultBuilder, file_span, frame_pairs, hold_last, paired_windows
from openfoley.pipeline.windows import plan_windows

PathLike = str | os.PathLike
SOLVERS = ("euler", "midpoint", "heun")


# --- the numpy maths: latent layout, onset guidance, ODE -------------------------------------------

def unpatchify(x: np.ndarray, p: int, f: int) -> np.ndarray:
    """(b, n, p*f) -> (b, f, n*p), as ``openfoley.nn.patches.unpatchify``."""
    b, n, _ = x.shape
    return x.reshape(b, n, p, f).transpose(0, 3, 1, 2).reshape(b, f, n * p)


def patchify(mel: np.ndarray, p: int) -> np.ndarray:
    """(b, f, m) -> (b, m // p, p*f), the inverse of ``unpatchify``."""
    b, f, m = mel.shape
    return mel.reshape(b, f, m // p, p).transpose(0, 2, 3, 1).reshape(b, m // p, p * f)


def guide_target(onset: np.ndarray, cfg: Config) -> np.ndarray:
    """``FoleyModel.guide_target``: onset (b, t) -> the track onset guidance pulls towards (b, t)."""
    fc = cfg.flow
    if fc.onset_guide == "soft":
        return onset
    lo = np.full_like(onset[:, :1], -np.inf)
    left = np.concatenate([lo, onset[:, :-1]], 1)
    right = np.concatenate([onset[:, 1:], lo], 1)
    peak = (onset >= fc.onset_peak_threshold) & (onset > left) & (onset >= right)
    return np.where(peak, np.float32(fc.onset_peak_height), np.float32(fc.onset_floor)).astype(np.float32)


def _pool_bins(m: int, t: int) -> list[tuple[int, int]]:
    """``adaptive_max_pool1d``'s intervals: bin j covers [floor(j m / t), ceil((j + 1) m / t))."""
    return [(j * m // t, -(-(j + 1) * m // t)) for j in range(t)]


def onset_guide_grad(x1: np.ndarray, target: np.ndarray, p: int, f: int, lead: int = 0, sharp: bool = False,
                     floor: float = 0.0) -> np.ndarray:
    """Gradient of ``FoleyModel.onset_guide`` with respect to x1 (b, n, p*f), written out.

    ``sharp`` (``flow.onset_guide = "sharp"``, with ``floor`` = ``flow.onset_floor``): guide(x1) = f * sum_{b,j}
    (flux_j - s_j)^2 over mel frames, flux_j the rise into mel frame j averaged over bins and s the track
    placed on mel frames (``sharp_guide_target``); its gradient goes through the ReLU to the two mel
    frames of each rise. Otherwise (below):

    guide(x1) = f * sum_{b,j} (o_j - target_j)^2 with o = ``onset_target(unpatchify(x1), t, lead)``: the
    positive spectral flux averaged over bins, delayed by ``lead`` mel frames, max-pooled into t bins.
    The gradient goes to each bin's arg-max frame (the first one on a tie), back by ``lead`` (nothing
    for the zeros the delay put in front), through the ReLU (zero where the rise is not positive), and
    to the two mel frames of that rise with opposite signs.
    """
    mel = unpatchify(x1, p, f)  # (b, f, m)
    b, _, m = mel.shape
    t = target.shape[1]
    d = mel[..., 1:] - mel[..., :-1]  # (b, f, m-1)
    if sharp:
        flux = np.concatenate([np.zeros((b, 1), mel.dtype), np.maximum(d, 0).mean(axis=1)], 1)  # (b, m)
        ask = np.full((b, m), floor, np.float32)
        pos = np.arange(t) * m // t - lead
        keep = pos >= 0
        ask[:, pos[keep]] = target[:, keep]
        dflux = 2 * f * (flux - ask)
        return _flux_back(d, dflux, f, p, x1.dtype)
    flux = np.concatenate([np.zeros((b, 1 + lead), mel.dtype), np.maximum(d, 0).mean(axis=1)], 1)[:, :m]  # (b, m)
    dflux = np.zeros_like(flux)
    bins = _pool_bins(m, t)
    if all(e - s == m // t for s, e in bins) and m % t == 0:  # equal bins: vectorised
        w = m // t
        arg = flux.reshape(b, t, w).argmax(-1) + np.arange(t) * w  # (b, t)
        o = np.take_along_axis(flux, arg, 1)
        np.add.at(dflux, (np.arange(b)[:, None], arg), 2 * f * (o - target))
    else:
        for j, (s, e) in enumerate(bins):
            arg = s + flux[:, s:e].argmax(-1)  # (b,)
            o = flux[np.arange(b), arg]
            dflux[np.arange(b), arg] += 2 * f * (o - target[:, j])
    if lead:  # the delayed track's value j is the rise into mel frame j - lead
        dflux = np.concatenate([dflux[:, lead:], np.zeros((b, lead), dflux.dtype)], 1)
    return _flux_back(d, dflux, f, p, x1.dtype)


def _flux_back(d: np.ndarray, dflux: np.ndarray, f: int, p: int, dtype) -> np.ndarray:
    """The guide's gradient with respect to the rise into each mel frame, dflux (b, m), back to the tokens:
    d (b, f, m-1) are the mel differences -> (b, n, p*f)."""
    dd = (d > 0) * (dflux[:, None, 1:] / f)  # (b, f, m-1): d flux_j / d rise_{j-1} = 1/f where it is positive
    b, _, m1 = d.shape
    dmel = np.zeros((b, f, m1 + 1), d.dtype)
    dmel[..., 1:] += dd
    dmel[..., :-1] -= dd
    return patchify(dmel.astype(dtype), p)


def integrate(fn: Callable[[np.ndarray, float], np.ndarray], x0: np.ndarray, steps: int, solver: str) -> np.ndarray:
    """``openfoley.flow.solvers.integrate`` on the uniform grid from t=0 (noise) to t=1 (data)."""
    if steps < 1:
        raise ConfigError(f"the number of ODE steps must be >= 1, got {steps}")
    if solver not in SOLVERS:
        raise ConfigError(f"ODE solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    grid = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    x = x0
    for i in range(steps):
        t, h = float(grid[i]), np.float32(grid[i + 1] - grid[i])
        if solver == "euler":
            x = x + h * fn(x, t)
        elif solver == "midpoint":
            half = h / np.float32(2)
            x = x + h * fn(x + half * fn(x, t), float(np.float32(t) + half))
        else:
            k1 = fn(x, t)
            k2 = fn(x + h * k1, float(np.float32(t) + h))
            x = x + (h / np.float32(2)) * (k1 + k2)
    return x


def vocoder_name(cfg: Config) -> str:
    """``GriffinLimVocoder.name`` for the config's Griffin-Lim settings (the lite runtime's vocoder)."""
    a = cfg.audio
    return griffin_lim_name(a.griffin_lim_init, a.griffin_lim_iters, a.griffin_lim_momentum)


# --- the model files --------------------------------------------------------------------------------

def session_options(threads: int | None, level):
    """ONNX Runtime's session options as the lite runtime runs its graphs, at graph optimisation ``level``
    (``onnxruntime.GraphOptimizationLevel``); ``benchmarks/condition_profile.py`` profiles with the same."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default, one per core
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3  # warnings about unused initialisers are not the user's concern
    # No busy-waiting of idle pool threads after a run: between network calls numpy works (guidance,
    # the vocoder), and spinning threads would take its cores.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.graph_optimization_level = level
    return opts


@functools.cache
def cpu_key() -> str | None:
    """12 hex digits naming this CPU's instruction set (the machine type and the ``flags`` line of
    /proc/cpuinfo), or None where that cannot be read: the key of graphs laid out for this CPU (read once
    per process)."""
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    flags = next((ln for ln in info.splitlines() if ln.startswith(("flags", "Features"))), None)
    if flags is None:
        return None
    return hashlib.sha256(f"{platform.machine()}\n{' '.join(sorted(flags.split(':', 1)[-1].split()))}".encode()
                          ).hexdigest()[:12]


def _session(folder: Path, name: str, threads: int | None):
    """An ONNX Runtime session for ``folder/name.onnx``, from its graph-optimised copies.

    ONNX Runtime's "extended" graph optimisations (fusions; not the CPU-specific layout changes)
    took 0.2-0.4 s per start; they are applied once per ONNX Runtime version and saved beside the
    export as ``name.ort-VERSION.onnx``: portable, so a cache folder may move to another CPU.

    The CPU-specific layout changes (``ORT_ENABLE_ALL``: blocked NCHWc convolutions for this CPU's vector
    width) run the built-in model's condition network in 0.82x the time on one thread (docs/generate.md,
    "Layout optimisations at load"). Applied at load they cost 0.04-0.07 s per process, so the graph they
    give is saved too, as ``name.ort-VERSION-cpu-KEY.onnx`` (``cpu_key``: the instruction set it was laid
    out for), and later sessions on a CPU of that key load it with no optimisation at all, the same graph
    (docs/sync-diagnosis.md part 39). Another CPU gets its own file; where the CPU cannot be named or the
    folder cannot be written, the layout pass runs at every load as before.
    """
    import onnxruntime as ort

    levels = ort.GraphOptimizationLevel

    def written(src: Path, dst: Path, level):
        """A session of ``src`` optimised at ``level``, its graph saved as ``dst``; None if it cannot be."""
        tmp = folder / f".{dst.name}.{os.getpid()}.tmp"
        try:  # a folder that cannot be written is found here, before ONNX Runtime prints its own retry notice
            open(tmp, "wb").close()
        except OSError:
            return None
        opts = session_options(threads, level)
        opts.optimized_model_filepath = str(tmp)
        try:
            sess = ort.InferenceSession(str(src), opts, providers=providers)
            os.replace(tmp, dst)
            return sess
        except Exception:  # noqa: BLE001 - ONNX Runtime's errors (a file it cannot write) are plain Exceptions;
            # a graph that cannot load at all fails again, with its own message, where the caller falls back
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return None

    providers = ["CPUExecutionProvider"]

    def load(path: Path, level):
        return ort.InferenceSession(str(path), session_options(threads, level), providers=providers)

    src, opt = folder / f"{name}.onnx", folder / f"{name}.ort-{ort.__version__}.onnx"
    if not opt.is_file() and written(src, opt, levels.ORT_ENABLE_EXTENDED) is None:
        return load(src, levels.ORT_ENABLE_ALL)  # the same graph as loading the saved copy would give, optimised in memory
    key = cpu_key()
    if key is None:
        return load(opt, levels.ORT_ENABLE_ALL)
    local = folder / f"{name}.ort-{ort.__version__}-cpu-{key}.onnx"
    if local.is_file():
        return load(local, levels.ORT_DISABLE_ALL)
    sess = written(opt, local, levels.ORT_ENABLE_ALL)
    return sess if sess is not None else load(opt, levels.ORT_ENABLE_ALL)


@dataclass
class WindowCondition:
    """``condition.onnx``'s outputs for one window: the prepared condition by name (3 branches), the
    onset head's prediction (1, t), the key frames (1, k) and every frame's saliency (1, t)."""

    prepared: dict[str, np.ndarray]
    onset: np.ndarray
    key_index: np.ndarray
    key_saliency: np.ndarray


class LiteModel:
    """The exported model (``lite.export``): two ONNX Runtime sessions, the config, the latent statistics."""

    def __init__(self, folder: PathLike, threads: int | None = None, condition_threads: int | None = None):
        """``threads``: ONNX Runtime's threads per session (None: one per core); ``condition_threads``:
        the condition session's own, when it runs beside the flow (``LitePipeline``'s two lanes)."""
        folder = Path(folder)
        try:
            meta = np.load(folder / "lite.npz")
            self.cfg = Config.from_dict(json.loads(str(meta["config"])))
            self.names = [str(n) for n in meta["cond_names"]]
            self.mel_mean = meta["mel_mean"].astype(np.float32)
            self.mel_std = meta["mel_std"].astype(np.float32)
        except (OSError, KeyError, ValueError, ConfigError) as e:
            raise ModelError(f"{folder}: not a lite model folder ({e})") from None
        self.condition_session = _session(folder, "condition", condition_threads or threads)
        self.velocity_session = _session(folder, "velocity", threads)
        self.folder = folder

    def condition(self, frames: np.ndarray, event_frames: np.ndarray | None = None) -> WindowCondition:
        """frames uint8 (1, T, 3, H, W) of one (padded) window -> its ``WindowCondition``; ``event_frames``
        (1, k T, 3, H, W), the same span at ``alignment.event_fps``, for a model whose event path reads its
        own frames (``Config.event_rate`` k > 1)."""
        feed = {"frames": frames}
        if self.cfg.event_rate > 1:
            if event_frames is None:
                raise ValueError(f"this model's event path reads its own frames: give event_frames (1, "
                                 f"{self.cfg.event_frames}, 3, H, W)")
            feed["event_frames"] = event_frames
        out = self.condition_session.run(None, feed)
        k = len(self.names)
        return WindowCondition(prepared=dict(zip(self.names, out[:k], strict=True)), onset=out[k],
                               key_index=out[k + 1], key_saliency=out[k + 2])

    def velocity(self, x: np.ndarray, t: np.ndarray, prepared: dict[str, np.ndarray]) -> np.ndarray:
        """x (r, n, p*f), t (r,), the prepared condition of the same r branches -> v (r, n, p*f)."""
        return self.velocity_session.run(None, {"x": x, "t": t} | prepared)[0]

    def latent_to_mel(self, x1: np.ndarray) -> np.ndarray:
        """x1 (b, n, p*f) -> log-mel (b, f, m), ``FoleyModel.latent_to_mel``."""
        c = self.cfg
        mel = unpatchify(x1, c.encoder.audio_patch, c.audio.n_mels)
        return mel * self.mel_std[:, None] + self.mel_mean[:, None]

    def sample(self, cond: WindowCondition, x0: np.ndarray, steps: int, solver: str, cfg_scale: float,
               refine: bool, onset_guidance: float, known: np.ndarray | None = None,
               known_mask: np.ndarray | None = None) -> np.ndarray:
        """x1 (1, n, p*f) from noise x0 (1, n, p*f): ``FoleyModel.sample_latent`` for a CFM model."""
        fc = self.cfg.flow
        refine = refine and fc.refine_scale != 0.0
        need_uncond = cfg_scale != 1.0 or refine
        r = 1 + int(need_uncond) + int(refine)
        prepared = {k: v[:r] for k, v in cond.prepared.items()}  # branches: cond, null, local

        def fn(x: np.ndarray, t: float) -> np.ndarray:
            out = self.velocity(np.repeat(x, r, axis=0), np.full((r,), t, np.float32), prepared)
            if not need_uncond:
                return out[:1]
            vc, vu = out[:1], out[1:2]
            v = vc if cfg_scale == 1.0 else vu + np.float32(cfg_scale) * (vc - vu)
            if refine:
                v = v + np.float32(fc.refine_scale) * (out[2:3] - vu)
            return v

        velocity = fn
        if onset_guidance > 0:
            target = guide_target(cond.onset, self.cfg)
            p, f, lead = self.cfg.encoder.audio_patch, self.cfg.audio.n_mels, fc.onset_guide_lead
            sharp = fc.onset_guide == "sharp"

            def velocity(x: np.ndarray, t: float) -> np.ndarray:
                v = fn(x, t)
                x1 = x + np.float32(1 - t) * v
                return v - np.float32(onset_guidance) * onset_guide_grad(x1, target, p, f, lead, sharp,
                                                                         fc.onset_floor)

        if known is None or known_mask is None:
            return integrate(velocity, x0, steps, solver)
        m = known_mask[..., None]  # (1, n, 1)
        a = np.float32(1 - fc.sigma_min)

        u_t = known - a * x0  # the path's velocity: the same at every t

        def inpainted(x: np.ndarray, t: float) -> np.ndarray:
            x_t = (1 - a * np.float32(t)) * x0 + np.float32(t) * known
            return np.where(m, u_t, velocity(np.where(m, x_t, x), t))

        return np.where(m, known, integrate(inpainted, x0, steps, solver))


# --- the pipeline ----------------------------------------------------------------------------------

class LitePipeline:
    """``FoleyPipeline``'s generation on ``LiteModel``; ``__call__`` returns the same ``FoleyResult``."""

    def __init__(self, model: LiteModel, name: str = "model", overlap: float | None = None, lanes: int = 1):
        """``lanes``: 2 runs the flow on this thread and the decoding, conditioning and vocoding of the
        neighbouring windows on a helper thread (``from_pretrained``'s default with 2 or more cores);
        1 runs every stage in turn on this thread. The result is the same either way."""
        if lanes not in (1, 2):
            raise ConfigError(f"lanes must be 1 or 2, got {lanes}")
        self.model, self.cfg, self.name, self.lanes = model, model.cfg, name, int(lanes)
        self.plan = plan_windows(self.cfg, overlap)
        self.inpaints = True
        self.has_onset_head = self.cfg.alignment.enabled and self.cfg.alignment.onset_weight > 0

    @classmethod
    def from_pretrained(cls, path: PathLike | None = "builtin", threads: int | None = None,
                        overlap: float | None = None, on_build: Callable[[str], None] | None = None,
                        lanes: int | None = None) -> LitePipeline:
        """"builtin", a weights folder or a training run folder; its lite files come from the cache
        (``lite.cache.lite_files``), built on first use (torch is imported then, once).

        ``lanes``: None picks 2 on a machine with 2 or more cores, else 1. With 2 lanes and ``threads``
        None the condition network gets one thread per core and the velocity network one per core but one:
        the helper lane (decoding and conditioning) is the busier one with the built-in model's two event
        paths, so its network takes the core the flow leaves idle while it waits for the next window
        (on 2 cores, 60 s clip: 3.36 -> 3.07 s in-process, docs/sync-diagnosis.md part 39); ``threads``
        sets both."""
        from openfoley.lite.cache import lite_files
        from openfoley.pipeline.folders import resolve_model_dir

        cores = os.cpu_count() or 1
        lanes = (2 if cores >= 2 else 1) if lanes is None else int(lanes)
        cond_threads = velocity_threads = threads
        if lanes == 2 and threads is None:
            cond_threads, velocity_threads = cores, max(1, cores - 1)
        folder = resolve_model_dir(path)
        model = LiteModel(lite_files(folder, on_build=on_build), velocity_threads, condition_threads=cond_threads)
        return cls(model, name=str(folder), overlap=overlap, lanes=lanes)

    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sample_rate

    def _clips(self, path: Path, start: float, n: int) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Per window its frames (t <= T, 3, H, W) and, for a model whose event path reads its own frames
        (k = ``Config.event_rate`` > 1), the same span at k times the rate, of which the frames are every k-th
        (one decode; else None)."""
        c, plan, k = self.cfg, self.plan, self.cfg.event_rate

        def read(rate: float) -> Iterator[np.ndarray]:
            yield from iter_frame_windows(path, rate, c.video.size, window=plan.window_seconds, hop=plan.hop_seconds,
                                          resize=c.video.resize, start=start, duration=n / c.video.fps)

        if k == 1:
            yield from ((w, None) for w in read(c.video.fps))
        else:
            yield from paired_windows(read(c.video.fps * k), k)  # one decode: every k-th frame the model's

    def __call__(self, video, steps: int | None = None, cfg_scale: float | None = None, solver: str | None = None,
                 seed: int = 0, start: float = 0.0, duration: float | None = None,
                 progress: Callable[[int, int], None] | None = None, onset_guidance: float | None = None,
                 refine: bool | None = None, noise: Callable[[tuple[int, ...]], np.ndarray] | None = None) -> FoleyResult:
        """As ``FoleyPipeline.__call__`` for a video file path or uint8 frames (t, 3, H, W) as a numpy
        array at the model's fps and size (``alignment.event_fps`` for a model whose event path reads its own). ``noise(shape)`` replaces the default noise source (numpy
        PCG64 seeded with ``seed``): tests give it torch's noise to compare the two runtimes.

        numpy's BLAS runs on one thread meanwhile: its products here are small (the vocoder's mel
        inverse, 64 x 513 by 513 x 400), and OpenBLAS's thread pool made them 17x slower beside
        ONNX Runtime's threads and other work on 2 cores (docs/generate.md)."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._generate(video, steps, cfg_scale, solver, seed, start, duration, progress, onset_guidance,
                                  refine, noise)

    def _generate(self, video, steps, cfg_scale, solver, seed, start, duration, progress, onset_guidance, refine,
                  noise) -> FoleyResult:
        c, plan, fps = self.cfg, self.plan, self.cfg.video.fps
        fc = c.flow
        steps = fc.steps if steps is None else int(steps)
        cfg_scale = fc.cfg_scale if cfg_scale is None else float(cfg_scale)
        solver = fc.solver if solver is None else solver
        guidance = fc.onset_guidance if onset_guidance is None else float(onset_guidance)
        if not (guidance >= 0 and np.isfinite(guidance)):
            raise ConfigError(f"onset guidance must be a finite number >= 0, got {guidance}")
        guidance = guidance if self.has_onset_head else 0.0
        refine = fc.refine if refine is None else refine
        if start < 0 or (duration is not None and not duration > 0):
            raise ConfigError(f"start must be >= 0 and duration > 0, got start={start}, duration={duration}")
        clips: Iterator[tuple[np.ndarray, np.ndarray | None]]
        if isinstance(video, np.ndarray):
            size = c.video.size
            if video.dtype != np.uint8 or video.ndim != 4 or video.shape[1:] != (3, size, size):
                raise MediaError(f"frames must be uint8 (t, 3, {size}, {size}) at {fps * c.event_rate:g} fps, "
                                 f"got {video.dtype} {video.shape}")
            n, seconds, clips = frame_pairs(video, plan, c.event_rate, start, duration)
            name = "frames"
        else:
            path = Path(video)
            n, seconds = file_span(path, fps, start, duration)
            name, clips = str(path), self._clips(path, start, n)
        if noise is None:
            rng = np.random.default_rng(int(seed))

            def noise(shape: tuple[int, ...]) -> np.ndarray:
                return rng.standard_normal(shape, dtype=np.float32)

        total = plan.count(n)
        out = ResultBuilder(plan, start, seconds, c.audio.n_mels, c.audio.sample_rate / c.audio.hop_length,
                            c.flow.onset_peak_threshold)
        if progress is not None:
            progress(0, total)
        o = plan.overlap_tokens

        def prepare(j: int) -> tuple[np.ndarray, int, WindowCondition, float, float]:
            """Window j's frames (padded to the plan's length), real frame count, condition and the
            decode and condition times."""
            t0 = time.perf_counter()
            got = next(clips, None)
            if got is None:
                raise MediaError(f"{name}: the video ended before window {j + 1} (fewer frames than probed)")
            frames, ev = got
            t1 = time.perf_counter()
            real = frames.shape[0]
            if real < plan.frames:  # a short last window: hold the last frame
                frames = np.concatenate([frames, np.repeat(frames[-1:], plan.frames - real, axis=0)])
            if ev is not None:  # the event path's frames, held the same way
                ev = np.ascontiguousarray(hold_last(ev, c.event_frames)[None])
            cond = self.model.condition(np.ascontiguousarray(frames[None]), ev)
            return frames, real, cond, t1 - t0, time.perf_counter() - t1

        def vocode(mel: np.ndarray) -> tuple[np.ndarray, float]:
            t0 = time.perf_counter()
            wav = log_mel_to_wav(mel, c.audio)  # (1, S)
            return wav, time.perf_counter() - t0

        # Two lanes (docs/generate.md, "Two lanes"): this thread integrates the flow of window j while
        # one helper thread decodes and conditions window j + 1 and vocodes window j - 1. The flow of a
        # window waits for the previous one (its overlap is inpainted from it); nothing else does.
        # Every window's sums are the same as in one lane, in the same order: only the threads differ.
        helper = ThreadPoolExecutor(1, thread_name_prefix="openfoley-lite") if self.lanes > 1 else None

        def here(fn, *a) -> Future:
            f: Future = Future()
            try:
                f.set_result(fn(*a))
            except BaseException as e:  # noqa: BLE001 - handed to .result() as the helper would
                f.set_exception(e)
            return f

        def run(fn, *a) -> Future:
            return helper.submit(fn, *a) if helper is not None else here(fn, *a)

        pending: tuple[int, Future, np.ndarray, int, WindowCondition, dict[str, float]] | None = None

        def finish(item) -> None:
            j, fut, frames, real, cond, times = item
            wav, t_voc = fut.result()
            out.add(j, j * plan.hop_frames, real, wav[0], mel_of[j][0], cond.key_index[0], cond.key_saliency[0], frames,
                    times | {"vocoder": t_voc}, cond.onset[0] if self.has_onset_head else None)
            del mel_of[j]
            if progress is not None:
                progress(j + 1, total)

        mel_of: dict[int, np.ndarray] = {}
        try:
            ahead = run(prepare, 0)
            prev: np.ndarray | None = None
            for j in range(total):
                frames, real, cond, t_dec, t_enc = ahead.result()
                if j + 1 < total:
                    ahead = run(prepare, j + 1)
                t2 = time.perf_counter()
                known = mask = None
                x0 = noise((1, plan.tokens, c.audio_token_dim))
                if prev is not None and o > 0:
                    known = np.zeros_like(prev)
                    known[:, :o] = prev[:, -o:]
                    mask = np.zeros((1, plan.tokens), bool)
                    mask[:, :o] = True
                x1 = self.model.sample(cond, x0, steps, solver, cfg_scale, refine, guidance, known, mask)
                mel_of[j] = self.model.latent_to_mel(x1)  # (1, f, m)
                prev = x1
                # the helper still conditioning window j + 1 is the busier lane (a heavy video side, such as
                # two event paths): vocode here, where the flow would only wait for it, not queued behind it
                voc = run(vocode, mel_of[j]) if helper is None or ahead.done() else here(vocode, mel_of[j])
                if pending is not None:
                    finish(pending)
                pending = (j, voc, frames, real, cond,
                           {"decode": t_dec, "encoders": t_enc, "flow": time.perf_counter() - t2})
            if pending is not None:
                finish(pending)
        finally:
            if helper is not None:
                helper.shutdown(wait=True, cancel_futures=True)
        return out.result(name, total, seed, settings={
            "steps": steps, "cfg_scale": cfg_scale, "solver": solver, "onset_guidance": guidance,
            "model": self.name, "vocoder": vocoder_name(c),
            "overlap_tokens": o, "inpainting": True, "runtime": "lite", "lanes": self.lanes})
