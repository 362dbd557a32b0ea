"""Algorithm 1, the training loop: one function that reads top to bottom, one CPU to many GPUs.

    setup -> data -> model -> optimiser/schedule -> EMA -> resume -> loop -> teardown

Per optimiser step, for each micro-batch: sample masks, encode the visible inputs, predict the masked
audio and video (L_mask), flow loss on the audio latents conditioned on the aligned key-frame
features (L_flow); update on L = lambda_mask * L_mask + lambda_flow * L_flow (``objective.loss_fn``).

Determinism (what makes kill-and-resume and the DDP equivalence test exact): all randomness of a
micro-batch (masks, flow noise and time, dropout) is seeded from ``(seed, step, global micro index)``
and the data order from ``(seed, epoch)``. Nothing depends on the RNG history, so a resumed run
draws what the uninterrupted run would have drawn, and 2 ranks x 1 micro-batch see exactly what
1 rank x 2 accumulated micro-batches see.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from openfoley import checkpoint as ckpt
from openfoley.config import Config
from openfoley.errors import DataError, ModelError, OpenFoleyError
from openfoley.model import FoleyModel
from openfoley.training import distributed as dist_utils
from openfoley.training.data import StoreBatches, collate
from openfoley.training.ema import EMA
from openfoley.training.objective import loss_fn
from openfoley.training.optim import build_optimizer, build_scheduler, lr_factor
from openfoley.training.samples import write_samples

log = logging.getLogger(__name__)


class TrainingDiverged(OpenFoleyError):
    """The loss became NaN/inf; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    last_loss: float
    weights: Path


def micro_seed(seed: int, step: int, micro: int) -> int:
    """A seed for one micro-batch, independent of the rank layout (see module docstring)."""
    return (seed * 1_000_003 + step * 9_973 + micro * 101 + 17) % (2**63 - 1)


def precision_autocast(precision: str, device: torch.device):
    """The autocast context of ``train.precision`` (fp32: autocast off; bf16 / fp16: that dtype) on
    ``device``; also used by the generator stage (``scripts/fit-global-route.py --precision``)."""
    if precision == "fp32":
        return torch.autocast(device.type, enabled=False)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def _unwrap(model: torch.nn.Module) -> FoleyModel:
    return model.module if isinstance(model, DDP) else model  # type: ignore[return-value]


def train(cfg: Config, store, run_dir: str | Path, *, val_store=None, resume: bool = True,
          device: str | None = None, max_steps: int | None = None, progress: bool = True,
          stop_after: int | None = None, init: str | Path | None = None) -> TrainResult:
    """Train ``cfg`` on a feature store; write checkpoints and metrics into ``run_dir``.

    ``store``/``val_store`` are ``FeatureStore``-like (``len``, ``__getitem__`` -> dict with
    ``frames`` (t, 3, H, W) uint8 and ``mel`` (f, m), and ``mel(i)`` -> the mel alone). ``stop_after`` ends the process's loop after
    that many steps without finishing the schedule (used by tests to simulate an interruption).

    ``init``: a weights folder (``RUN/weights`` or a shipped model) to continue from when ``run_dir``
    has no resume checkpoint, e.g. on a new machine where only the committed weights survive. The
    model and its EMA start from those weights (the EMA weights, so the continuation starts from the
    smoothed model), the step counter from the folder's ``meta.json`` step (so the data order,
    the per-step seeds and the cosine schedule carry on), and the optimiser afresh, with its learning
    rate ramped up again over ``train.warmup_steps`` steps while Adam's moments rebuild.
    """
    # --- setup ---------------------------------------------------------------------------------
    info = dist_utils.setup(device)
    if max_steps is not None:  # the schedule (warmup + cosine) is laid out over the run's real length
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, max_steps=max_steps))
    tc = cfg.train
    total = tc.max_steps
    run_dir = Path(run_dir)
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _check_run_config(run_dir, cfg)
    dist_utils.barrier(info)

    # --- data ----------------------------------------------------------------------------------
    if len(store) == 0:
        raise DataError("feature store is empty")
    if tc.batch_size % (info.world_size * tc.grad_accum):
        raise OpenFoleyError(f"train.batch_size ({tc.batch_size}) must divide by world size "
                             f"({info.world_size}) x grad_accum ({tc.grad_accum})")
    micro_bs = tc.batch_size // (info.world_size * tc.grad_accum)  # the one place it is divided
    batches = StoreBatches(store, tc.batch_size, micro_bs, seed=tc.seed, workers=tc.num_workers,
                           micros_per_step=tc.grad_accum, first_micro=info.rank * tc.grad_accum)

    # --- model, optimiser, schedule, EMA ---------------------------------------------------------
    torch.manual_seed(tc.seed)
    model = FoleyModel(cfg).to(info.device)
    if model.needs_stats():
        model.set_latent_stats(*_latent_stats(model, store))
    opt = build_optimizer(model.parameters(), tc)
    if model.event_path is not None and cfg.event_rate > 1:
        log.info("the event path reads frames of its own at %g fps, which training batches do not hold: it is "
                 "kept as it is (scripts/fit-event-path.py trains it)", model.event_path.fps)
    if model.coarse_event_path is not None:
        log.info("the event pair's second path (%g fps) is kept as it is too", model.coarse_event_path.fps)
    ema = EMA(model, tc.ema_decay)
    scaler = torch.amp.GradScaler(info.device.type, enabled=tc.precision == "fp16")

    # --- resume ----------------------------------------------------------------------------------
    start = 0
    init_step = None  # the step an --init run started from (its schedule re-warms from there)
    existing = ckpt.list_resume(run_dir) if resume else []
    if existing:
        state = ckpt.load_resume(existing[-1])
        ckpt.load_state_into(model, state["model"], str(existing[-1]))
        init_step = state.get("init_step")
        sched = _schedule(opt, tc, init_step)  # before the optimiser state: building it resets the lr
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        ema.load_state_dict(state["ema"])
        scaler.load_state_dict(state["scaler"])
        start = int(state["step"])
        log.info("resumed from %s at step %d", existing[-1], start)
    elif init is not None:
        lw = ckpt.load_weights(init)
        if _resume_view(lw.config) != _resume_view(cfg):
            raise ModelError(f"{init}: weights were trained with a different config; --init needs the same "
                             "settings (apart from max_steps and logging)")
        ckpt.load_state_into(model, lw.state, str(init))
        ema.model.load_state_dict(model.state_dict())
        start = init_step = int(lw.meta.get("step", 0))
        ema.step = start
        if start >= total:
            raise OpenFoleyError(f"{init} is at step {start}; give --max-steps above it to train on")
        sched = _schedule(opt, tc, init_step)
        log.info("initialised from %s at step %d (fresh optimiser, %d re-warmup steps)", init, start,
                 tc.warmup_steps)
    else:
        sched = _schedule(opt, tc, None)
        if cfg.encoder.appearance != "none" and not cfg.encoder.appearance_train:
            log.warning("encoder.appearance is on but frozen (appearance_train = false) in a run from scratch: "
                        "its tower stays at random weights. Pretrain and join it first "
                        "(scripts/pretrain-appearance.py, scripts/add-appearance-path.py, then --init), or set "
                        "encoder.appearance_train=true")

    ddp_model: torch.nn.Module = model
    if info.distributed:
        ddp_model = DDP(model, device_ids=[info.device.index] if info.device.type == "cuda" else None,
                        find_unused_parameters=tc.find_unused_parameters)

    # --- loop ----------------------------------------------------------------------------------
    metrics_path = run_dir / "metrics.jsonl"
    bar = None
    if progress and info.is_main:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=start, desc="train", dynamic_ncols=True)
    tb = _tensorboard(run_dir) if info.is_main else None
    loss_value = float("nan")
    step = start
    t_last, clips_since = time.perf_counter(), 0
    while step < total:
        if stop_after is not None and step - start >= stop_after:
            break
        ddp_model.train()
        opt.zero_grad(set_to_none=True)
        # the step's loss terms, averaged over its micro-batches as detached float64 tensors (floats only
        # when logged: each conversion waits for the device); flow bins add 0 where a micro-batch had none
        parts_sum: dict[str, torch.Tensor] = {}
        bins_sum: torch.Tensor | None = None
        bins_seen: torch.Tensor | None = None
        ids: list[str] = []
        for micro in range(tc.grad_accum):
            gmicro = info.rank * tc.grad_accum + micro
            batch = batches.get(step, gmicro, info.device)
            ids += batch.ids
            seed = micro_seed(tc.seed, step, gmicro)
            torch.manual_seed(seed)  # dropout
            gen = torch.Generator(device=info.device).manual_seed(seed + 1)
            sync = micro == tc.grad_accum - 1 or not info.distributed
            ctx = ddp_model.no_sync() if not sync and isinstance(ddp_model, DDP) else contextlib.nullcontext()
            with ctx, precision_autocast(tc.precision, info.device):
                out = loss_fn(ddp_model, batch, gen, cfg)
            scaler.scale(out.loss / tc.grad_accum).backward()
            for k, v in out.parts.items():
                parts_sum[k] = parts_sum.get(k, 0.0) + v.double() / tc.grad_accum
            if out.flow_bins is not None:
                bins = out.flow_bins.double()
                seen = ~torch.isnan(bins)
                add = torch.where(seen, bins, 0.0) / tc.grad_accum
                bins_sum = add if bins_sum is None else bins_sum + add
                bins_seen = seen if bins_seen is None else bins_seen | seen
        loss_t = dist_utils.all_reduce_mean(parts_sum["loss"].float(), info)
        loss_value = float(loss_t)
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"loss is {loss_value} at step {step} (batch ids {ids[:8]}"
                                   f"{'...' if len(ids) > 8 else ''}); last good checkpoint kept in "
                                   f"{run_dir / 'checkpoints'}")
        scaler.unscale_(opt)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip))
        scaler.step(opt)
        scaler.update()
        sched.step()
        ema.update(model)
        step += 1
        clips_since += tc.batch_size

        if info.is_main and (step % tc.log_every == 0 or step == total):
            now = time.perf_counter()
            rec = {"step": step, "lr": sched.get_last_lr()[0], "grad_norm": grad_norm,
                   "clips_per_s": clips_since / max(now - t_last, 1e-9), **_logged(parts_sum, bins_sum, bins_seen)}
            rec["loss"] = loss_value
            t_last, clips_since = now, 0
            with open(metrics_path, "a") as f:
                f.write(json.dumps(rec) + "\n")
            if tb is not None:
                for k, v in rec.items():
                    if k != "step":
                        tb.add_scalar(f"train/{k}", v, step)
            if bar is not None:
                bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{rec['lr']:.2e}",
                                clips_s=f"{rec['clips_per_s']:.1f}")
        if bar is not None:
            bar.update(1)
        if val_store is not None and info.is_main and (step % tc.val_every == 0 or step == total):
            val = validation_loss(ema.model, val_store, cfg, info.device)
            with open(metrics_path, "a") as f:
                f.write(json.dumps({"step": step, "val_loss": val}) + "\n")
            if tb is not None:
                tb.add_scalar("val/loss", val, step)
        if val_store is not None and info.is_main and tc.sample_every > 0 and step % tc.sample_every == 0:
            write_samples(ema.model, val_store, cfg, run_dir / "samples", step, device=info.device)
        if step % tc.ckpt_every == 0 or step == total:
            if info.is_main:
                _save(run_dir, cfg, step, model, opt, sched, ema, scaler, tc.keep_last, loss_value, init_step)
            dist_utils.barrier(info)

    # --- teardown ------------------------------------------------------------------------------
    batches.close()
    if bar is not None:
        bar.close()
    if tb is not None:
        tb.close()
    dist_utils.teardown()
    return TrainResult(run_dir=run_dir, step=step, last_loss=loss_value, weights=run_dir / "weights")


def _logged(parts: dict[str, torch.Tensor], bins: torch.Tensor | None, seen: torch.Tensor | None) -> dict[str, float]:
    """A step's loss terms as floats for metrics.jsonl, with ``flow_t{i}`` for each flow-time bin that
    any of its micro-batches filled."""
    out = {k: float(v) for k, v in parts.items()}
    if bins is not None and seen is not None:
        out.update({f"flow_t{i}": b for i, (b, s) in enumerate(zip(bins.tolist(), seen.tolist(), strict=True)) if s})
    return out


def _tensorboard(run_dir: Path):
    """A TensorBoard writer into RUN/tb when the ``tensorboard`` package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run_dir / "tb"))


def _schedule(opt, tc, init_step: int | None):
    """The warmup + cosine schedule; after ``--init`` at ``init_step`` (the scheduler then counts from
    0 at that step), the same curve from there, ramped up again over ``warmup_steps``."""
    if init_step is None:
        return build_scheduler(opt, tc)
    rewarm = max(1, tc.warmup_steps)
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s + init_step, tc.warmup_steps, tc.max_steps) * min(1.0, (s + 1) / rewarm))


def _save(run_dir: Path, cfg: Config, step: int, model, opt, sched, ema, scaler, keep_last: int,
          loss: float, init_step: int | None = None) -> None:
    state = {"step": step, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "scheduler": sched.state_dict(), "ema": ema.state_dict(), "scaler": scaler.state_dict(),
             "init_step": init_step}
    ckpt.save_resume(run_dir, step, state, keep_last=keep_last)
    ckpt.save_weights(run_dir / "weights", ema.model.state_dict(), cfg,
                      {"step": step, "loss": loss, "weights": "ema"})


def _check_run_config(run_dir: Path, cfg: Config) -> None:
    """Write the resolved config; refuse a run folder that holds a different config."""
    path = run_dir / "config.json"
    if path.exists():
        try:
            old = Config.from_json(path.read_text())
        except Exception as e:  # noqa: BLE001 - any parse failure means incompatible
            raise ModelError(f"{path}: run folder holds an incompatible config ({e})") from None
        if _resume_view(old) != _resume_view(cfg) and ckpt.list_resume(run_dir):
            diff = [k for k, v in _resume_view(cfg).items() if _resume_view(old).get(k) != v]
            raise ModelError(f"{run_dir}: run folder was trained with a different config (differs in "
                             f"{', '.join(diff)}); use a new --out or the same settings")
    path.write_text(cfg.to_json())


# Settings a resumed run may change: how long it runs and how often it logs and saves.
RESUMABLE_CHANGES = ("max_steps", "log_every", "val_every", "sample_every", "ckpt_every", "keep_last", "num_workers")


# Sampling-only settings of the flow section: training never reads them.
SAMPLING_ONLY = ("onset_guidance", "onset_guide", "onset_peak_threshold", "onset_peak_height", "onset_floor",
                 "onset_guide_lead", "global_gain")


# Vocoder settings of the audio section: only synthesis reads them, never the training step.
VOCODER_ONLY = ("griffin_lim_iters", "griffin_lim_momentum", "griffin_lim_init")


def _resume_view(cfg: Config) -> dict:
    d = cfg.to_dict()
    d["audio"] = {k: v for k, v in d["audio"].items() if k not in VOCODER_ONLY}
    d["train"] = {k: v for k, v in d["train"].items() if k not in RESUMABLE_CHANGES}
    d["flow"] = {k: v for k, v in d["flow"].items() if k not in SAMPLING_ONLY}
    return d


@torch.no_grad()
def _latent_stats(model: FoleyModel, store, max_items: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mel-bin mean and std of the log-mel over (up to) the first ``max_items`` clips."""
    n = min(len(store), max_items)
    mels = torch.stack([store.mel(i) for i in range(n)])  # (n, f, m), without copying the frames
    mean = mels.mean(dim=(0, 2))  # (f,)
    std = mels.std(dim=(0, 2)).clamp_min(1e-3)
    return mean, std


@torch.no_grad()
def validation_loss(model: torch.nn.Module, store, cfg: Config, device: torch.device,
                    max_items: int = 64, seed: int = 1234) -> float:
    """Mean loss over the first ``max_items`` validation clips with a fixed RNG (comparable across steps)."""
    model.eval()
    n = min(len(store), max_items)
    bs = max(1, min(cfg.train.batch_size, 16))
    total, count = 0.0, 0
    for i0 in range(0, n, bs):
        batch = collate([store[i] for i in range(i0, min(n, i0 + bs))], device)
        gen = torch.Generator(device=device).manual_seed(seed + i0)
        out = loss_fn(model, batch, gen, cfg)
        total += float(out.loss) * len(batch.ids)
        count += len(batch.ids)
    return total / max(count, 1)
