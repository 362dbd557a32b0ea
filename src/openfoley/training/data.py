"""Batches for training, read from a feature store by (step, global micro-batch index).

The data order is a permutation per epoch seeded by ``(seed, epoch)``; micro-batch ``g`` of step ``s``
holds global positions ``s * B + g * b .. + b`` (B global batch, b micro-batch). This is the
DistributedSampler of this project: each rank reads only its own micro-batches, the union over
ranks and accumulation steps is the global batch, and the position is a pure function of the step,
so resuming needs no sampler state.

With ``workers > 0`` the items of the next ``prefetch`` micro-batches are loaded ahead in that many
worker processes (each opens its own copy of the store): the work that matters for a ``LiveStore``
(``openfoley.data.foleyworld.live``), which renders every clip when asked. Which clips a micro-batch
holds does not depend on the workers, so a run with and without them trains on the same batches.
"""

from __future__ import annotations

import multiprocessing as mp
from multiprocessing.pool import AsyncResult, Pool
from typing import Any

import torch

from openfoley.model import Batch

_WORKER_STORE: Any = None  # the store, set in each worker process


def _init_worker(store) -> None:
    global _WORKER_STORE
    torch.set_num_threads(1)
    _WORKER_STORE = store


def _load(indices: list[int]) -> list[dict]:
    return [_WORKER_STORE[i] for i in indices]


def collate(items: list[dict], device: torch.device | str = "cpu") -> Batch:
    """Stack store items into a ``Batch``: frames (b, t, 3, H, W) uint8, mel (b, f, m) float32."""
    frames = torch.stack([torch.as_tensor(it["frames"]) for it in items]).to(device)
    mel = torch.stack([torch.as_tensor(it["mel"], dtype=torch.float32) for it in items]).to(device)
    return Batch(frames=frames, mel=mel, ids=[str(it.get("id", i)) for i, it in enumerate(items)])


class StoreBatches:
    def __init__(self, store, global_batch: int, micro_batch: int, seed: int, workers: int = 0,
                 prefetch: int = 2, micros_per_step: int = 1, first_micro: int = 0):
        self.store = store
        self.workers, self.prefetch = int(workers), max(1, int(prefetch))
        self.micros_per_step, self.first_micro = max(1, micros_per_step), first_micro
        self._pool: Pool | None = None
        self._pending: dict[tuple[int, int], AsyncResult[list[dict]]] = {}
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

    def _submit(self, step: int, gmicro: int) -> None:
        if (step, gmicro) not in self._pending:
            assert self._pool is not None
            self._pending[(step, gmicro)] = self._pool.apply_async(_load, (self.indices(step, gmicro),))

    def get(self, step: int, gmicro: int, device: torch.device | str = "cpu") -> Batch:
        if self.workers <= 0:
            return collate([self.store[i] for i in self.indices(step, gmicro)], device)
        if self._pool is None:
            self._pool = mp.get_context("fork").Pool(self.workers, _init_worker, (self.store,))
        # this rank's micro-batches of the next steps, in the order they will be asked for
        ahead: list[tuple[int, int]] = []
        s, g = step, gmicro
        while len(ahead) < self.prefetch + 1:
            ahead.append((s, g))
            g += 1
            if g >= self.first_micro + self.micros_per_step:
                s, g = s + 1, self.first_micro
        for key in ahead:
            self._submit(*key)
        for key in [k for k in self._pending if k < (step, gmicro)]:  # a resumed or skipped position
            self._pending.pop(key)
        items = self._pending.pop((step, gmicro)).get()
        return collate(items, device)

    def close(self) -> None:
        """Stop the workers once the micro-batches they are still prefetching are loaded: CPython's
        ``Pool.terminate`` with tasks in flight fails now and then ("Cannot have cache with
        result_hander not alive"; 2 of 20 closes here)."""
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
            self._pending.clear()
