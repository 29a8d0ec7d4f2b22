"""Training over two processes (torchrun, gloo on the CPU) against training alone."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import GistcadError, ValidationError
from gistcad.neural.distributed import fit_network
from gistcad.neural.fitting import Monitor, TrainConfig
from gistcad.neural.network import ModelConfig
from gistcad.neural.world import World
from tests.neural.conftest import blob_crops

SMALL = ModelConfig(architecture="densenet-small", crop_size=32)


def test_each_rank_gets_its_share_of_every_batch_and_the_same_number_of_steps() -> None:
    batches = [np.arange(0, 8), np.arange(8, 16), np.arange(16, 19)]
    first, second = World(0, 2).share(batches), World(1, 2).share(batches)
    assert [b.tolist() for b in first] == [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]
    assert [b.tolist() for b in second] == [[1, 3, 5, 7], [9, 11, 13, 15], [17]]
    # a batch smaller than the group joins the one before: no rank is left without a step
    four = [World(r, 4).share([np.arange(8), np.arange(8, 10)]) for r in range(4)]
    assert {len(share) for share in four} == {1}
    assert sorted(np.concatenate([s[0] for s in four]).tolist()) == list(range(10))
    assert World().share(batches) is batches


def _fit(nproc: int, seen: list[int]) -> float:
    """Best validation accuracy (48 crops) after training on 32, over ``nproc`` processes."""
    crops, labels = blob_crops(80, seed=2)
    cfg = TrainConfig(
        model=SMALL, epochs=5, batch_size=8, learning_rate=3e-3, monitor=Monitor.VAL_LOSS
    )
    nan = np.full(80, np.nan)
    result = fit_network(
        crops, labels, nan, np.zeros(80), train_idx=np.arange(32), val_idx=np.arange(32, 80),
        cfg=cfg, nproc=nproc, progress=lambda epoch, total, metrics: seen.append(epoch),
    )  # fmt: skip
    assert len(result.history) == len(seen) and result.config is cfg
    assert seen == list(range(1, len(seen) + 1))
    return result.best.val_accuracy


def test_two_processes_learn_what_one_learns() -> None:
    # a class the image shows (bright vs dark sphere): chance 0.5, SD 0.072 over 48 crops
    alone, spread = _fit(1, []), _fit(2, [])
    assert alone >= 0.9 and spread >= 0.9
    assert abs(alone - spread) <= 0.1


def test_a_failing_rank_is_reported_with_its_message() -> None:
    crops, labels = blob_crops(8)
    bad = TrainConfig(model=ModelConfig(architecture="densenet-small", crop_size=48), epochs=1)
    nan = np.full(8, np.nan)
    with pytest.raises(GistcadError, match=r"over 2 processes failed[\s\S]*crops must be"):
        fit_network(crops, labels, nan, np.zeros(8), train_idx=np.arange(6),
                    val_idx=np.arange(6, 8), cfg=bad, nproc=2)  # fmt: skip
    with pytest.raises(ValidationError, match="1 or more processes"):
        fit_network(crops, labels, nan, np.zeros(8), train_idx=np.arange(6),
                    val_idx=np.arange(6, 8), cfg=bad, nproc=0)  # fmt: skip
