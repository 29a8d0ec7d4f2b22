"""The processes a training run is spread over: one, or a ``torch.distributed`` group.

:func:`~gistcad.neural.fitting.train_model` asks :func:`current_world` whether it runs alone or
as one rank of a process group (started by ``torchrun``, see
:mod:`gistcad.neural.distributed`). In a group every rank draws the same batch order (the same
seed), trains on its share of each batch (:meth:`World.share`), and PyTorch's
``DistributedDataParallel`` averages the gradients; the validation fold is scored by every
rank alike and early stopping follows rank 0's value, so that all ranks stop at the same epoch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among ``size`` processes (0 of 1 when alone)."""

    rank: int = 0
    size: int = 1

    @property
    def alone(self) -> bool:
        return self.size == 1

    def share(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """This rank's part of each batch: rows ``rank, rank + size, ...``.

        A batch smaller than the group joins the one before, so that every rank gets at least
        one row of every batch and all ranks run the same number of steps (a rank without a
        step would leave the others waiting for its gradients).
        """
        if self.alone:
            return batches
        merged: list[np.ndarray] = []
        for batch in batches:
            if merged and len(batch) < self.size:
                merged[-1] = np.concatenate([merged[-1], batch])
            else:
                merged.append(batch)
        return [batch[self.rank :: self.size] for batch in merged]

    def total(self, value: float, count: int) -> tuple[float, int]:
        """``value`` and ``count`` summed over the ranks."""
        if self.alone:
            return value, count
        both = torch.tensor([value, float(count)], dtype=torch.float64)
        dist.all_reduce(both)
        return float(both[0]), int(both[1])

    def from_first(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (so that early stopping agrees)."""
        if self.alone:
            return value
        shared = torch.tensor([value], dtype=torch.float64)
        dist.broadcast(shared, src=0)
        return float(shared[0])


def current_world() -> World:
    """The process group this process belongs to, or a world of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()
