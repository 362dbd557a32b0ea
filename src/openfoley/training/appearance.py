"""Learn the appearance path from co-occurrence: a clip's frames against its own sound (contrastive).

    cache = render_cache(bank, cfg, clips=4000, split="train", seed=61)     # frames + log-mels, once
    towers = pretrain(cfg, cache, AppearancePretrainConfig(steps=2000))     # AppearanceEncoder + AudioTower

Two towers, no labels and no text (the paper's alignment is learned from co-occurrence):

    frames of a clip, `frames_per_step` of its sampled frames (every encoder.appearance_stride-th)
        AppearanceEncoder.embed per frame (k, e) ──mean and max over the k frames──> linear ──> v (e,)
    its log-mel (f, m), normalised per mel bin ──AudioTower──> a (e,)
    loss = symmetric InfoNCE over the batch: cross-entropy of softmax(s * cos(v_i, a_j)) towards i = j,
    both ways, with s = exp(learned log-scale), as in audio-visual correspondence learning.

The batch's other clips are the negatives: to tell its own sound from 63 others, the video tower has to
see which object is there (a dog's look goes with barks, a shield's with clangs), which is what the
generator's condition lacked (docs/sync-diagnosis.md part 17). Only ``AppearanceEncoder`` goes into the
model (``scripts/add-appearance-path.py``); the audio tower and the pooling head are training aids.

Shapes: b clips, k sampled frames per clip and step, t' sampled frames per clip in the cache,
e = encoder.appearance_dim, f mel bins, m mel frames.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openfoley.config import Config
from openfoley.encoders.appearance import AppearanceEncoder
from openfoley.errors import ConfigError


@dataclass
class Cache:
    """Rendered clips for pretraining: frames (b, t', 3, H, W) uint8 at the path's sampled frames,
    log-mels (b, f, m) float16, class labels (for the probe only, never for training)."""

    frames: Tensor
    mel: Tensor
    labels: list[str]


def render_cache(bank: str, cfg: Config, clips: int, split: str = "train", seed: int = 61,
                 walkers: float = 0.5, start: int = 0, render=None) -> Cache:
    """Render live FoleyWorld clips ``start .. start + clips - 1`` of ``split`` at the frames the appearance
    path samples (every ``encoder.appearance_stride``-th frame of the model's grid): the frames and
    log-mel ``LiveStore`` would hand the training loop for the same clips. ``render``: the RenderConfig
    (None: 128 px with ``walkers`` as the training renders' walker share on the train split)."""
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore, frames_on_grid
    from openfoley.features.mel import log_mel

    if render is None:
        render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate,
                              walker_share=walkers if split == "train" else 0.0)
    store = LiveStore(bank, cfg, split=split, seed=seed, render=render)
    step = round(render.fps / cfg.video.fps) * cfg.encoder.appearance_stride  # render frames per sampled frame
    fps = render.fps / step
    frames, mels, labels = [], [], []
    for i in range(start, start + clips):
        clip = store.clip(i, frame_step=step)
        frames.append(torch.from_numpy(frames_on_grid(clip.frames, fps, fps, cfg.video.size)))
        mels.append(log_mel(torch.from_numpy(clip.audio), cfg.audio).half())  # as LiveStore rounds it
        labels.append(clip.truth["class"])
    return Cache(torch.stack(frames), torch.stack(mels), labels)


class AudioTower(nn.Module):
    """log-mel (b, f, m) -> a (b, e): per-mel-bin normalisation, three strided 1-D convolutions over
    time (GELU), mean and max over time, a linear layer."""

    mean: Tensor  # buffers: per-mel-bin statistics of the pretraining cache (f,)
    std: Tensor

    def __init__(self, n_mels: int, dim: int, width: int = 128):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_mels))
        self.register_buffer("std", torch.ones(n_mels))
        chans = (n_mels, width, width, width)
        self.convs = nn.ModuleList(nn.Conv1d(a, b, 5, stride=2, padding=2)
                                   for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.out = nn.Linear(2 * width, dim)

    def forward(self, mel: Tensor) -> Tensor:
        x = (mel.float() - self.mean[:, None]) / self.std[:, None]
        for conv in self.convs:
            x = F.gelu(conv(x))
        return self.out(torch.cat([x.mean(-1), x.amax(-1)], -1))


class Towers(nn.Module):
    """The two towers and the video side's pooling head."""

    def __init__(self, cfg: Config):
        super().__init__()
        e = cfg.encoder
        self.video = AppearanceEncoder(e.appearance_channels, e.appearance_dim, e.appearance_stride)
        self.pool = nn.Linear(2 * e.appearance_dim, e.appearance_dim)
        self.audio = AudioTower(cfg.audio.n_mels, e.appearance_dim)
        self.log_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def video_embedding(self, frames: Tensor) -> Tensor:
        """frames (b, k, 3, H, W) uint8 -> v (b, e): per-frame embeddings pooled over the k frames."""
        return self.pool(pooled_embeddings(self.video, frames))


def pooled_embeddings(encoder: AppearanceEncoder, frames: Tensor) -> Tensor:
    """frames (b, k, 3, H, W) uint8 -> the mean and max over the k frames of their raw embeddings (b, 2e)."""
    per = encoder.embed(frames.flatten(0, 1).float() / 255).unflatten(0, frames.shape[:2])  # (b, k, e)
    return torch.cat([per.mean(1), per.amax(1)], -1)


def info_nce(v: Tensor, a: Tensor, log_scale: Tensor) -> tuple[Tensor, Tensor]:
    """v, a (b, e) -> (symmetric InfoNCE loss, share of clips whose own sound is v's nearest)."""
    logits = log_scale.clamp(max=math.log(100)).exp() * F.normalize(v, dim=-1) @ F.normalize(a, dim=-1).T
    target = torch.arange(len(v), device=v.device)
    loss = 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))
    return loss, (logits.argmax(1) == target).float().mean()


def pick_frames(frames: Tensor, k: int, g: torch.Generator) -> Tensor:
    """(b, t', 3, H, W) -> (b, k, 3, H, W): k distinct random frames of each clip."""
    b, t = frames.shape[:2]
    idx = torch.rand(b, t, generator=g).argsort(1)[:, :k]  # (b, k)
    return frames[torch.arange(b)[:, None], idx]


@torch.no_grad()
def retrieval_accuracy(towers: Towers, cache: Cache, chunk: int = 64) -> float:
    """Top-1 retrieval over the whole cache: the share of clips whose own sound is nearest to their frames
    (all sampled frames pooled) among all the cache's sounds; chance 1 / len(cache)."""
    towers.eval()
    v = torch.cat([towers.video_embedding(cache.frames[i:i + chunk]) for i in range(0, len(cache.labels), chunk)])
    a = torch.cat([towers.audio(cache.mel[i:i + chunk]) for i in range(0, len(cache.labels), chunk)])
    sim = F.normalize(v, dim=-1) @ F.normalize(a, dim=-1).T
    return float((sim.argmax(1) == torch.arange(len(v))).float().mean())


@torch.no_grad()
def clip_appearance(encoder: AppearanceEncoder, frames: Tensor, chunk: int = 64) -> Tensor:
    """frames (b, t', 3, H, W) uint8 -> each clip's per-frame embeddings' mean and max (b, 2e)."""
    return torch.cat([pooled_embeddings(encoder, frames[i:i + chunk]) for i in range(0, len(frames), chunk)])


@dataclass(frozen=True)
class AppearancePretrainConfig:
    """Contrastive pretraining of the appearance path: ``steps`` steps of ``batch`` cached clips, each seen
    through ``frames_per_step`` random sampled frames; Adam at ``lr`` with cosine decay, grad-clip 1."""

    steps: int = 2000
    batch: int = 64
    frames_per_step: int = 4
    lr: float = 1e-3
    seed: int = 0
    log_every: int = 100

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 2 or self.frames_per_step < 1 or not self.lr > 0:
            raise ConfigError("appearance pretraining needs steps >= 1, batch >= 2, frames_per_step >= 1, lr > 0")


def pretrain(cfg: Config, cache: Cache, pc: AppearancePretrainConfig, log=print) -> Towers:
    """Train both towers on ``cache`` as ``pc`` says; -> the towers (eval mode)."""
    steps, batch, log_every = pc.steps, pc.batch, pc.log_every
    torch.manual_seed(pc.seed)
    towers = Towers(cfg)
    m = cache.mel.float()
    towers.audio.mean.copy_(m.mean((0, 2)))
    towers.audio.std.copy_(m.std((0, 2)).clamp_min(1e-3))
    opt = torch.optim.Adam(towers.parameters(), pc.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))
    g = torch.Generator().manual_seed(pc.seed)
    n = len(cache.labels)
    t0, run_loss, run_acc = time.perf_counter(), 0.0, 0.0
    towers.train()
    for step in range(1, steps + 1):
        idx = torch.randperm(n, generator=g)[:batch]
        v = towers.video_embedding(pick_frames(cache.frames[idx], pc.frames_per_step, g))
        a = towers.audio(cache.mel[idx])
        loss, acc = info_nce(v, a, towers.log_scale)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(towers.parameters(), 1.0)
        opt.step()
        sched.step()
        run_loss += float(loss.detach())
        run_acc += float(acc)
        if step % log_every == 0 or step == steps:
            k = log_every if step % log_every == 0 else step % log_every
            log(f"step {step}: InfoNCE {run_loss / k:.3f}, in-batch top-1 {run_acc / k:.3f} (chance {1 / batch:.3f}), "
                f"{time.perf_counter() - t0:.0f} s")
            run_loss = run_acc = 0.0
    return towers.eval()


def labels_to_index(train: list[str], test: list[str]) -> tuple[Tensor, Tensor, list[int]]:
    """Class names -> (train indices, test indices of the test clips whose class is in train, their positions)."""
    names = sorted(set(train))
    index = {c: i for i, c in enumerate(names)}
    keep = [i for i, c in enumerate(test) if c in index]
    return (torch.tensor([index[c] for c in train]), torch.tensor([index[test[i]] for i in keep]), keep)


def linear_probe(xtr: Tensor, ytr: Tensor, xte: Tensor, yte: Tensor, classes: int) -> float:
    """Multinomial logistic regression (L-BFGS, L2 1e-3) on standardised features -> test accuracy."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = torch.zeros(xtr.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((xte @ w + b).argmax(1) == yte).float().mean())
