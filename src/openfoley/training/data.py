"""Batches for training, read from a feature store by (step, global micro-batch index).

The data order is a permutation per epoch seeded by ``(seed, epoch)``; micro-batch ``g`` of step ``s``
holds global positions ``s * B + g * b .. + b`` (B global batch, b micro-batch). This is the
DistributedSampler of this project: each rank reads only its own micro-batches, the union over
ranks and accumulation steps is the global batch, and the position is a pure function of the step,
so resuming needs no sampler state.
"""

from __future__ import annotations

import torch

from openfoley.model import Batch


def collate(items: list[dict], device: torch.device | str = "cpu") -> Batch:
    """Stack store items into a ``Batch``: frames (b, t, 3, H, W) uint8, mel (b, f, m) float32."""
    frames = torch.stack([torch.as_tensor(it["frames"]) for it in items]).to(device)
    mel = torch.stack([torch.as_tensor(it["mel"], dtype=torch.float32) for it in items]).to(device)
    return Batch(frames=frames, mel=mel, ids=[str(it.get("id", i)) for i, it in enumerate(items)])


class StoreBatches:
    def __init__(self, store, global_batch: int, micro_batch: int, seed: int):
        self.store = store
        self.n = len(store)
        self.global_batch = global_batch
        self.micro_batch = micro_batch
        self.seed = seed
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            if len(self._perms) > 4:
                self._perms.pop(min(self._perms))
            g = torch.Generator().manual_seed(self.seed * 7919 + epoch)
            self._perms[epoch] = torch.randperm(self.n, generator=g)
        return self._perms[epoch]

    def indices(self, step: int, gmicro: int) -> list[int]:
        """Store indices of micro-batch ``gmicro`` of optimiser step ``step``."""
        first = step * self.global_batch + gmicro * self.micro_batch
        out = []
        for pos in range(first, first + self.micro_batch):
            epoch, r = divmod(pos, self.n)
            out.append(int(self._perm(epoch)[r]))
        return out

    def get(self, step: int, gmicro: int, device: torch.device | str = "cpu") -> Batch:
        return collate([self.store[i] for i in self.indices(step, gmicro)], device)
