"""Mixed precision and data-loader workers (the GPU path), checked on the CPU: workers change
when a batch is read, never what it holds; bfloat16 autocast runs the training forward pass
and nothing else; float16 is refused off CUDA. On a GPU: ``bench/gpu_path.py``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gistcad.domain import Precision
from gistcad.errors import ValidationError
from gistcad.neural import fitting
from gistcad.neural.fitting import TrainConfig, TrainResult, train_model
from gistcad.neural.network import ModelConfig, build_model
from tests.neural.conftest import blob_crops

SMALL = ModelConfig(crop_size=32)


def _fit(crops: np.ndarray, labels: np.ndarray, cfg: TrainConfig) -> TrainResult:
    n = len(labels)
    durations = np.linspace(5.0, 60.0, n)
    events = (np.arange(n) % 3 == 0).astype(float)
    return train_model(
        crops, labels, durations, events,
        train_idx=np.arange(n - 4), val_idx=np.arange(n - 4, n), cfg=cfg,
    )  # fmt: skip


def test_loader_workers_read_the_same_batches_bit_for_bit(
    tmp_path: Path, loader_workers_seen: list[int]
) -> None:
    crops, labels = blob_crops(20, seed=7)
    mapped = np.lib.format.open_memmap(tmp_path / "crops.npy", "w+", np.float32, crops.shape)
    mapped[:] = crops
    mapped.flush()
    cfg = TrainConfig(model=SMALL, epochs=1, batch_size=4, patience=5)  # 4 batches
    alone = _fit(crops, labels, cfg)
    assert loader_workers_seen == []  # without workers no loader is built
    read_ahead = _fit(mapped, labels, replace(cfg, loader_workers=2))
    # a loader of two workers for the epoch: the workers did read
    assert loader_workers_seen == [2]
    assert [(h.train_loss, h.val_loss) for h in alone.history] == [
        (h.train_loss, h.val_loss) for h in read_ahead.history
    ]
    for key, value in alone.state_dict.items():
        assert torch.equal(value, read_ahead.state_dict[key]), key


def test_bfloat16_runs_the_training_forward_pass_only(monkeypatch: pytest.MonkeyPatch) -> None:
    crops, labels = blob_crops(12, seed=8)
    seen: list[tuple[bool, torch.dtype]] = []

    def hooked(config: ModelConfig) -> nn.Module:
        model = build_model(config)
        for layer in model.modules():
            if isinstance(layer, nn.Conv3d):
                layer.register_forward_hook(lambda m, _i, out: seen.append((m.training, out.dtype)))
        return model

    monkeypatch.setattr(fitting, "build_model", hooked)
    cfg = TrainConfig(model=SMALL, epochs=1, batch_size=4, precision="bf16")
    mixed = _fit(crops, labels, cfg)
    training = {dtype for train, dtype in seen if train}
    evaluating = {dtype for train, dtype in seen if not train}
    # training steps and precise batch norm (also in train mode) are the two sources of
    # train-mode passes; precise batch norm runs in float32, so both dtypes appear
    assert torch.bfloat16 in training
    assert evaluating == {torch.float32}  # validation
    assert all(v.dtype in (torch.float32, torch.int64) for v in mixed.state_dict.values())
    assert np.isfinite(mixed.history[0].train_loss) and np.isfinite(mixed.history[0].val_loss)
    full = _fit(crops, labels, replace(cfg, precision=Precision.FP32))
    # the same seed and batches: the losses differ only by bfloat16's rounding (8 bits of
    # mantissa), so they are close but not equal
    assert mixed.history[0].train_loss != full.history[0].train_loss
    assert mixed.history[0].train_loss == pytest.approx(full.history[0].train_loss, rel=0.05)


def test_float16_off_cuda_and_bad_settings_are_refused() -> None:
    crops, labels = blob_crops(8)
    with pytest.raises(ValidationError, match=r"fp16 needs a CUDA GPU.*bf16 or fp32"):
        _fit(crops, labels, TrainConfig(model=SMALL, epochs=1, batch_size=2,
                                        precision="fp16", device="cpu"))  # fmt: skip
    with pytest.raises(ValidationError, match="unknown precision 'fp8': one of fp32, bf16"):
        TrainConfig(precision="fp8")  # type: ignore[arg-type]
    for workers in (-1, 33, True, 2.5):
        with pytest.raises(ValidationError, match="loader_workers must be a whole number"):
            TrainConfig(loader_workers=workers)


def test_precision_and_workers_survive_json() -> None:
    cfg = TrainConfig(model=SMALL, precision=Precision.BF16, loader_workers=3)
    back = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg and back.precision is Precision.BF16
    stored_before = {k: v for k, v in cfg.to_dict().items()
                     if k not in ("precision", "loader_workers")}  # fmt: skip
    assert TrainConfig.from_dict(stored_before).precision is Precision.FP32
