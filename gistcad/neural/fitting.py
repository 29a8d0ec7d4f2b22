"""Training the genotype-and-risk network on crops, with early stopping on a validation fold.

Objective: :func:`gistcad.neural.loss.total_loss` — cross-entropy of the genotype logits
(class-weighted by inverse frequency in the training fold when ``class_weighted``) plus
``cox_weight`` × the Breslow Cox partial likelihood of the risk score over each mini-batch,
plus — for a network with a response head (``cfg.model.response_head``) — ``response_weight`` ×
the binary cross-entropy of the response logit over the rows whose response is known.
When the network takes covariates (``cfg.model.n_covariates > 0``) they travel with each
crop (``covariates``, one row per crop). AdamW; augmentation
(:mod:`gistcad.neural.augment`) on the training fold only; after every epoch the whole
validation fold is scored in eval mode; the best epoch by ``monitor`` is restored.

In a ``torch.distributed`` process group (started by :mod:`gistcad.neural.distributed`) the
network is wrapped in ``DistributedDataParallel`` and each rank trains on its share of every
batch (:mod:`gistcad.neural.world`); alone, nothing of that runs.

The GPU path
------------
``precision`` (:class:`~gistcad.domain.Precision`): ``bf16`` or ``fp16`` run the training
forward pass under ``torch.autocast`` (mixed precision); the network's output is cast back to
float32 before the loss (the Cox partial likelihood's cumulative sums stay float32), the
weights and the optimiser's state stay float32, and ``fp16`` (CUDA only) scales the loss
against gradient underflow (``torch.amp.GradScaler``). The augmentation, precise batch norm,
validation and prediction run in float32. ``loader_workers`` > 0 reads each batch's crops (a
memory map, or an array) in that many ``DataLoader`` worker processes ahead of the step, into
pinned memory on CUDA; the batches, their order and the augmentation are drawn in this
process as without workers, so the workers change when a batch is read, never what it holds
(tested: bit-identical histories and weights).

Reproducibility
---------------
``monai.utils.set_determinism(seed)`` seeds torch, numpy's and Python's global generators (the
weight initialisation and dropout draw from torch's) and sets cuDNN to deterministic; a
``numpy.random.Generator(seed)`` of its own draws the batch order and the augmentation. On
CPU, two runs with the same data, config, torch build, machine and thread count give
**bit-identical** loss histories and weights (tested). Not bit-reproducible: across thread
counts or CPU instruction sets (oneDNN picks different kernels and summation orders), across
torch versions, and on CUDA (``grid_sample``'s backward, used by the augmentation, adds with
atomics; results agree only to rounding).

Note that ``set_determinism`` changes process-wide random state; the caller that needs its
own global seeds should set them again afterwards.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from monai.utils import set_determinism
from sklearn.linear_model import LogisticRegression
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gistcad.analysis.performance import concordance_index
from gistcad.domain import MAX_LOADER_WORKERS, Precision
from gistcad.errors import ValidationError
from gistcad.neural import metrics
from gistcad.neural.augment import AugmentSettings, augment_batch
from gistcad.neural.inference import forward_all
from gistcad.neural.loss import class_weights, response_cross_entropy, total_loss
from gistcad.neural.network import (
    KIT11_INDEX,
    RESPONSE_INDEX,
    CovariateFusion,
    ModelConfig,
    build_model,
    pick_device,
    response_logit,
    split_outputs,
)
from gistcad.neural.world import World, current_world

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, dict[str, float]], None]


class Monitor(StrEnum):
    """What early stopping watches on the validation fold."""

    VAL_LOSS = "val_loss"  # lower is better
    VAL_AUC_KIT11 = "val_auc_kit11"  # KIT exon 11 vs rest; higher is better
    VAL_RESPONSE_LOSS = "val_response_loss"  # the response term alone; lower is better


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run (with the data and the folds)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    epochs: int = 60
    batch_size: int = 8
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    cox_weight: float = 0.5  # λ
    response_weight: float = 1.0  # μ, the response term's weight (response head only)
    class_weighted: bool = True  # inverse-frequency weights in the cross-entropy
    patience: int = 10
    monitor: Monitor = Monitor.VAL_LOSS
    augment: AugmentSettings | None = field(default_factory=AugmentSettings)
    seed: int = 0
    device: str = "auto"  # "auto": CUDA when available, else CPU
    eval_batch_size: int = 16
    precision: Precision = Precision.FP32  # mixed precision: see "The GPU path"
    loader_workers: int = 0  # processes reading batches ahead; 0: read in this process

    def __post_init__(self) -> None:
        object.__setattr__(self, "monitor", Monitor(self.monitor))
        try:
            object.__setattr__(self, "precision", Precision(self.precision))
        except ValueError:
            choices = ", ".join(p.value for p in Precision)
            raise ValidationError(
                f"unknown precision {self.precision!r}: one of {choices}"
            ) from None
        workers = self.loader_workers
        whole = isinstance(workers, int) and not isinstance(workers, bool)
        if not (whole and 0 <= workers <= MAX_LOADER_WORKERS):
            raise ValidationError(
                f"loader_workers must be a whole number from 0 (read batches in this process) "
                f"to {MAX_LOADER_WORKERS}, got {self.loader_workers!r}"
            )
        if self.epochs < 1 or self.batch_size < 2 or self.patience < 1:
            raise ValidationError(
                f"epochs and patience must be >= 1 and batch_size >= 2 (batch norm needs two "
                f"crops), got {self.epochs}, {self.patience}, {self.batch_size}"
            )
        if (
            self.learning_rate <= 0
            or self.weight_decay < 0
            or self.cox_weight < 0
            or self.response_weight < 0
        ):
            raise ValidationError(
                "learning_rate must be > 0, weight_decay, cox_weight and response_weight >= 0"
            )
        if self.monitor is Monitor.VAL_RESPONSE_LOSS and not self.model.response_head:
            raise ValidationError(
                "monitor val_response_loss needs a network with a response head "
                "(ModelConfig(response_head=True))"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the model registry)."""
        data = asdict(self)
        data["model"] = self.model.to_dict()
        data["monitor"] = self.monitor.value
        data["precision"] = self.precision.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """The config that :meth:`to_dict` wrote (tuples come back from JSON lists)."""
        fields = dict(data)
        fields["model"] = ModelConfig.from_dict(fields["model"])
        if fields.get("augment") is not None:
            augment = dict(fields["augment"])
            augment["hu_window"] = tuple(augment["hu_window"])
            fields["augment"] = AugmentSettings(**augment)
        return cls(**fields)


@dataclass(frozen=True)
class EpochRecord:
    """One epoch: mean training loss, and the validation fold's loss and metrics (NaN if none;
    the response's loss and AUC are NaN without a response head)."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    val_auc_kit11: float
    val_c_index: float
    seconds: float
    val_response_loss: float = float("nan")
    val_auc_response: float = float("nan")

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The restored best weights, the per-epoch history, the best epoch and the config."""

    state_dict: dict[str, torch.Tensor]
    history: tuple[EpochRecord, ...]
    best_epoch: int
    config: TrainConfig

    @property
    def best(self) -> EpochRecord:
        return self.history[self.best_epoch - 1]


@dataclass(frozen=True)
class _Data:
    crops: np.ndarray
    labels: np.ndarray
    durations: np.ndarray
    events: np.ndarray
    covariates: np.ndarray  # (N, C); C = 0 for an image-only network
    response: np.ndarray  # (N,) 1 responded, 0 not, −1 unknown (all −1 without a head)


def _check_inputs(
    data: _Data, train_idx: np.ndarray, val_idx: np.ndarray, cfg: TrainConfig
) -> None:
    n = len(data.crops)
    size = cfg.model.crop_size
    if data.crops.ndim != 5 or data.crops.shape[1:] != (2, size, size, size):
        raise ValidationError(
            f"crops must be (N, 2, {size}, {size}, {size}) for crop_size {size}, got "
            f"{data.crops.shape}; cut them with CropSettings(size={size})"
        )
    for name, values in (
        ("labels", data.labels),
        ("durations", data.durations),
        ("events", data.events),
        ("response", data.response),
    ):
        if values.shape != (n,):
            raise ValidationError(f"{name} must have shape ({n},) like crops, got {values.shape}")
    if data.covariates.shape != (n, cfg.model.n_covariates):
        raise ValidationError(
            f"covariates must have shape ({n}, {cfg.model.n_covariates}) for a network with "
            f"n_covariates={cfg.model.n_covariates}, got {data.covariates.shape}"
        )
    _check_label_values(data, cfg)
    for name, idx in (("train_idx", train_idx), ("val_idx", val_idx)):
        if np.any((idx < 0) | (idx >= n)):
            raise ValidationError(f"{name} holds indices outside 0…{n - 1}")
    if len(train_idx) < 2:
        raise ValidationError("train_idx needs at least 2 crops (batch norm)")
    if np.intersect1d(train_idx, val_idx).size:
        raise ValidationError("train_idx and val_idx overlap; the validation fold must be unseen")
    if cfg.monitor is Monitor.VAL_AUC_KIT11:
        y = data.labels[val_idx]
        if not ((y == KIT11_INDEX).any() and ((y >= 0) & (y != KIT11_INDEX)).any()):
            raise ValidationError(
                "monitor val_auc_kit11 needs KIT exon 11 and other genotypes in val_idx; "
                "stratify the folds by genotype or monitor val_loss"
            )


def _check_label_values(data: _Data, cfg: TrainConfig) -> None:
    if np.any((data.labels < -1) | (data.labels >= cfg.model.n_classes)):
        raise ValidationError(f"labels must be -1 (unknown) or 0…{cfg.model.n_classes - 1}")
    if np.any((data.response < -1) | (data.response > 1)):
        raise ValidationError("response must be -1 (unknown), 0 (not) or 1 (responded)")


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """Split ``order`` into batches of ``size``; a trailing single crop joins the last batch."""
    batches = [order[i : i + size] for i in range(0, len(order), size)]
    if len(batches) > 1 and len(batches[-1]) == 1:
        batches[-2] = np.concatenate(batches[-2:])
        batches.pop()
    return batches


def _tensors(data: _Data, idx: np.ndarray) -> tuple[torch.Tensor, ...]:
    """One batch's crops, covariates, labels, durations, events and response, on the CPU."""
    return (
        torch.from_numpy(np.ascontiguousarray(data.crops[idx], dtype=np.float32)),
        torch.as_tensor(data.covariates[idx], dtype=torch.float32),
        torch.as_tensor(data.labels[idx], dtype=torch.long),
        torch.as_tensor(data.durations[idx], dtype=torch.float32),
        torch.as_tensor(data.events[idx], dtype=torch.float32),
        torch.as_tensor(data.response[idx], dtype=torch.long),
    )


class _BatchReader(torch.utils.data.Dataset[tuple[torch.Tensor, ...]]):
    """The batches of one epoch, each read by :func:`_tensors` (in a loader's worker)."""

    def __init__(self, data: _Data, batches: list[np.ndarray]) -> None:
        self.data, self.batches = data, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return _tensors(self.data, self.batches[index])


def _read_batches(
    data: _Data, batches: list[np.ndarray], workers: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Each batch's tensors on ``device``, in order: read here (``workers`` 0) or by
    ``workers`` loader processes ahead of the step (pinned for a copy to CUDA)."""
    if workers == 0:
        reads: Iterator[tuple[torch.Tensor, ...]] = (_tensors(data, b) for b in batches)
    else:
        loader = torch.utils.data.DataLoader(
            _BatchReader(data, batches),
            batch_size=None,  # each item is a whole batch already
            num_workers=min(workers, len(batches)),
            pin_memory=device.type == "cuda",
            # the workers' seeds from a generator of their own: drawn from torch's global one
            # they would move the dropout's and the weights' random state
            generator=torch.Generator().manual_seed(0),
        )
        reads = iter(loader)
    for tensors in reads:
        yield tuple(t.to(device, non_blocking=True) for t in tensors)


def _autocast(device: torch.device, precision: Precision) -> AbstractContextManager[Any]:
    """The training forward pass's arithmetic (see "The GPU path")."""
    if precision is Precision.FP32:
        return nullcontext()
    dtype = torch.bfloat16 if precision is Precision.BF16 else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def check_precision(precision: Precision, device: torch.device) -> None:
    """Refuse float16 off CUDA (at once: a training run checks before it reads any crop)."""
    if precision is Precision.FP16 and device.type != "cuda":
        raise ValidationError(
            "--precision fp16 needs a CUDA GPU (float16 on the CPU is slow and needs loss "
            f"scaling); this fit runs on {device.type}: use --precision bf16 or fp32"
        )


def _loss(
    out: torch.Tensor,
    y: torch.Tensor,
    t: torch.Tensor,
    e: torch.Tensor,
    r: torch.Tensor,
    weights: torch.Tensor,
    cfg: TrainConfig,
) -> torch.Tensor:
    """The objective of the module docstring for one batch's network output."""
    logits, risk = split_outputs(out, cfg.model.n_classes)
    response = (response_logit(out), r) if cfg.model.response_head else None
    return total_loss(logits, risk, y, t, e, weights, cfg.cox_weight, response, cfg.response_weight)


def _train_epoch(
    model: nn.Module,
    optimiser: torch.optim.Optimizer,
    data: _Data,
    train_idx: np.ndarray,
    weights: torch.Tensor,
    cfg: TrainConfig,
    rngs: tuple[np.random.Generator, np.random.Generator],
    world: World,
    scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One pass over the training rows; the mean training loss per crop.

    ``rngs``: the batch order's generator (the same on every rank) and the augmentation's
    (this rank's own; the same generator when alone). In a process group each rank trains
    on its share of every batch (:meth:`World.share`). ``scaler``: float16's loss scaling.
    """
    order_rng, augment_rng = rngs
    device = weights.device
    model.train()
    total, count = 0.0, 0
    batches = world.share(_batches(order_rng.permutation(train_idx), cfg.batch_size))
    for x, c, y, t, e, r in _read_batches(data, batches, cfg.loader_workers, device):
        if cfg.augment is not None:
            x = augment_batch(x, cfg.augment, augment_rng)
        with _autocast(device, cfg.precision):
            out = run_network(model, x, c)
        loss = _loss(out.float(), y, t, e, r, weights, cfg)
        optimiser.zero_grad(set_to_none=True)
        if scaler is None:
            loss.backward()
            optimiser.step()
        else:
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
        total += float(loss.detach()) * len(x)
        count += len(x)
    total, count = world.total(total, count)
    return total / count


def covariate_start(
    covariates: npt.ArrayLike, labels: npt.ArrayLike, n_classes: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Multinomial logistic regression of the class on the covariates (rows with label >= 0):
    ``(weights (n_classes, C), biases (n_classes,))`` for ``train_model(covariate_init=...)``.

    A class absent from ``labels`` gets zero weights and a bias 5 below the lowest fitted one.
    """
    x = np.asarray(covariates, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    known = y >= 0
    x, y = x[known], y[known]
    weights = np.zeros((n_classes, x.shape[1]), np.float32)
    biases = np.zeros(n_classes, np.float32)
    present = np.unique(y)
    if present.size < 2:
        return weights, biases
    fit = LogisticRegression(C=1.0, max_iter=5000).fit(x, y)
    if present.size == 2:  # one logit: class 1 against class 0
        weights[present[1]], biases[present[1]] = fit.coef_[0], fit.intercept_[0]
    else:
        weights[present], biases[present] = fit.coef_, fit.intercept_
    absent = np.setdiff1d(np.arange(n_classes), present)
    biases[absent] = biases[present].min() - 5.0
    return weights, biases


def _start_covariates(
    model: nn.Module, init: tuple[npt.ArrayLike, npt.ArrayLike], config: ModelConfig
) -> None:
    """Set the covariate term's rows of the genotype logits (and of the response logit, the
    last row of ``init``, for a network with a response head); the risk row stays zero."""
    if not isinstance(model, CovariateFusion):
        raise ValidationError("covariate_init needs a network that takes covariates")
    weights = torch.as_tensor(np.asarray(init[0]), dtype=torch.float32)
    biases = torch.as_tensor(np.asarray(init[1]), dtype=torch.float32)
    rows = list(range(config.n_classes)) + ([RESPONSE_INDEX] if config.response_head else [])
    expected = (len(rows), model.covariates.in_features)
    if tuple(weights.shape) != expected or tuple(biases.shape) != (len(rows),):
        raise ValidationError(
            f"covariate_init must be weights {expected} and biases ({len(rows)},), got "
            f"{tuple(weights.shape)} and {tuple(biases.shape)}"
        )
    with torch.no_grad():
        model.covariates.weight[rows] = weights
        model.covariates.bias[rows] = biases


def run_network(model: nn.Module, x: torch.Tensor, covariates: torch.Tensor) -> torch.Tensor:
    """``model(x)``, or ``model(x, covariates)`` when there are covariates (C > 0)."""
    out: torch.Tensor = model(x, covariates) if covariates.shape[-1] else model(x)
    return out


def precise_batch_norm(
    model: nn.Module,
    crops: np.ndarray,
    idx: np.ndarray,
    batch_size: int,
    max_crops: int = 64,
    covariates: np.ndarray | None = None,
) -> None:
    """Re-estimate every batch-norm layer's running mean and variance on training crops.

    The running statistics start at mean 0, variance 1 and follow the batches with momentum
    0.1; a 3-D network's activations have far smaller variance at first, and the error
    compounds over EfficientNet-B0's 49 batch-norm layers: measured at initialisation, the
    mean |activation| before pooling is 8·10⁻⁴ in eval mode against 0.86 in train mode, and
    after 24 steps on 32 crops eval-mode accuracy was still chance while training accuracy
    was not. Recomputing the statistics as plain averages over up to ``max_crops``
    unaugmented training crops ("precise BN"; Wu & Johnson, arXiv:2105.07576) makes eval mode
    match what was trained. ``covariates`` (N, C), if the network takes them.
    """
    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        return
    momenta = [m.momentum for m in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative average
    device = next(model.parameters()).device
    extra = np.zeros((len(crops), 0), np.float32) if covariates is None else covariates
    model.train()
    with torch.no_grad():
        for batch in _batches(np.sort(idx[:max_crops]), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(crops[batch], dtype=np.float32))
            c = torch.as_tensor(extra[batch], dtype=torch.float32)
            run_network(model, x.to(device), c.to(device))
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


def _validate(
    model: nn.Module, data: _Data, val_idx: np.ndarray, weights: torch.Tensor, cfg: TrainConfig
) -> dict[str, float]:
    nan = float("nan")
    scores = {
        "val_loss": nan,
        "val_accuracy": nan,
        "val_auc_kit11": nan,
        "val_c_index": nan,
        "val_response_loss": nan,
        "val_auc_response": nan,
    }
    if len(val_idx) == 0:
        return scores
    covariates = data.covariates[val_idx] if cfg.model.n_covariates else None
    out = torch.from_numpy(
        forward_all(model, data.crops[val_idx], cfg.eval_batch_size, covariates=covariates)
    )
    logits, risk = split_outputs(out, cfg.model.n_classes)
    y, t, e, r = (
        torch.as_tensor(data.labels[val_idx], dtype=torch.long),
        torch.as_tensor(data.durations[val_idx], dtype=torch.float32),
        torch.as_tensor(data.events[val_idx], dtype=torch.float32),
        torch.as_tensor(data.response[val_idx], dtype=torch.long),
    )
    probabilities = torch.softmax(logits, dim=1).numpy()
    labels = data.labels[val_idx]
    scores |= {
        "val_loss": float(_loss(out, y, t, e, r, weights.cpu(), cfg)),
        "val_accuracy": metrics.accuracy(probabilities, labels),
        "val_auc_kit11": metrics.auc_one_vs_rest(
            probabilities[:, KIT11_INDEX], labels, KIT11_INDEX
        ),
        "val_c_index": concordance_index(
            risk.numpy(), data.durations[val_idx], data.events[val_idx]
        ),
    }
    if cfg.model.response_head:
        logit = response_logit(out)
        known = data.response[val_idx] >= 0
        scores["val_response_loss"] = (
            float(response_cross_entropy(logit, r)) if known.any() else nan
        )
        scores["val_auc_response"] = metrics.auc_one_vs_rest(
            torch.sigmoid(logit).numpy(), data.response[val_idx], 1
        )
    return scores


def _improved(value: float, best: float, monitor: Monitor) -> bool:
    if math.isnan(value):
        return False
    if math.isnan(best):
        return True
    return value < best if monitor is Monitor.VAL_LOSS else value > best


def train_model(
    crops: npt.NDArray[np.float32],
    labels: npt.ArrayLike,
    durations: npt.ArrayLike,
    events: npt.ArrayLike,
    *,
    train_idx: npt.ArrayLike,
    val_idx: npt.ArrayLike,
    cfg: TrainConfig,
    covariates: npt.ArrayLike | None = None,
    covariate_init: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
    response: npt.ArrayLike | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train a network from scratch and return its best weights (see the module docstring).

    Parameters
    ----------
    crops
        (N, 2, S, S, S) float32, S = ``cfg.model.crop_size``; may be a memory map (only each
        batch is read).
    labels
        (N,) genotype class index in :data:`~gistcad.neural.network.GENOTYPE_ORDER`;
        −1 = unknown (left out of the cross-entropy).
    durations
        (N,) follow-up in months; NaN = unknown (left out of the Cox term).
    events
        (N,) 1 = recurrence (event), 0 = censored.
    train_idx, val_idx
        Disjoint row indices. ``val_idx`` may be empty: then every epoch runs and the last
        is kept.
    cfg
        :class:`TrainConfig`.
    covariates
        (N, ``cfg.model.n_covariates``) covariates of each crop
        (:func:`gistcad.neural.covariates.covariate_matrix`); required when the network takes
        covariates, else omitted.
    covariate_init
        ``(weights (n_classes, C), biases (n_classes,))``: the starting genotype logits of the
        covariate term of a :class:`~gistcad.neural.network.CovariateFusion` (e.g. a logistic
        regression on the covariates of the training rows, :func:`covariate_start`); the risk
        score's row starts at zero. Without it the covariate term starts at zero. For a
        network with a response head, ``n_classes + 1`` rows: the last is the response
        logit's start (e.g. from ``covariate_start(covariates, response, 2)``'s class 1).
    response
        (N,) 1 = responded, 0 = not, −1 = unknown (left out of the response term); required
        for a network with a response head (``cfg.model.response_head``), else omitted.
    progress
        Called after each epoch as ``progress(epoch, cfg.epochs, record.as_dict())``.

    Returns
    -------
    TrainResult
        ``state_dict`` (on CPU) of the best epoch by ``cfg.monitor``, the history of every
        epoch run, the best epoch (1-based) and ``cfg``.
    """
    if (response is None) == cfg.model.response_head:
        raise ValidationError(
            "a network with a response head needs response=... (one value per crop)"
            if cfg.model.response_head
            else "response labels need a network with a response head "
            "(ModelConfig(response_head=True))"
        )
    data = _Data(
        np.asarray(crops),  # a memory map stays one: only each batch is read
        np.asarray(labels, dtype=np.int64),
        np.asarray(durations, dtype=np.float64),
        np.asarray(events, dtype=np.float64),
        np.zeros((len(crops), 0), np.float32)
        if covariates is None
        else np.asarray(covariates, dtype=np.float32),
        np.full(len(crops), -1, np.int64)
        if response is None
        else np.asarray(response, dtype=np.int64),
    )
    train = np.asarray(train_idx, dtype=np.int64)
    val = np.asarray(val_idx, dtype=np.int64)
    _check_inputs(data, train, val, cfg)

    set_determinism(seed=cfg.seed)
    world = current_world()
    rng = np.random.default_rng(cfg.seed)
    # alone: one generator, as before there were process groups (bit-identical runs)
    augment_rng = rng if world.alone else np.random.default_rng([cfg.seed, world.rank])
    device = pick_device(cfg.device)
    check_precision(cfg.precision, device)
    scaler = torch.amp.GradScaler("cuda") if cfg.precision is Precision.FP16 else None
    model = build_model(cfg.model)
    if covariate_init is not None:
        _start_covariates(model, covariate_init, cfg.model)
    model = model.to(device)
    # in a process group the gradients are averaged over the ranks at every step
    # (the histogram network leaves its DenseNet's own output layer unused: tell DDP to expect it)
    trained = model if world.alone else DistributedDataParallel(model, find_unused_parameters=True)
    n_classes = cfg.model.n_classes
    balanced = class_weights(data.labels[train], n_classes)
    weights = torch.as_tensor(
        balanced if cfg.class_weighted else np.ones(n_classes, np.float32), device=device
    )
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
    )

    history: list[EpochRecord] = []
    best_state: dict[str, torch.Tensor] = {}
    best_value, best_epoch, waited = float("nan"), 0, 0
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        train_loss = _train_epoch(
            trained, optimiser, data, train, weights, cfg, (rng, augment_rng), world, scaler
        )
        precise_batch_norm(
            model,
            data.crops,
            rng.permutation(train),
            cfg.batch_size,
            covariates=data.covariates if cfg.model.n_covariates else None,
        )
        scores = _validate(model, data, val, weights, cfg)
        record = EpochRecord(epoch, train_loss, **scores, seconds=time.perf_counter() - start)
        history.append(record)
        logger.info("epoch %d/%d %s", epoch, cfg.epochs, record)
        if progress is not None:
            progress(epoch, cfg.epochs, record.as_dict())
        value = world.from_first(scores[cfg.monitor.value])
        if len(val) == 0 or _improved(value, best_value, cfg.monitor):
            best_value, best_epoch, waited = value, epoch, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= cfg.patience:
                logger.info("early stop after epoch %d; best epoch %d", epoch, best_epoch)
                break
    if not best_state:  # the monitored value was NaN throughout: keep the last epoch
        best_epoch = len(history)
        best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return TrainResult(best_state, tuple(history), best_epoch, cfg)
