"""Predictions of a trained network on crops: genotype probabilities and imaging risk score.

:func:`predict` runs one network on the crops as they are; :func:`predict_mean` averages
several networks (a seed ensemble) over the crops as they are and fixed test-time views
(:func:`gistcad.neural.augment.view_batch`): the mean of the softmax probabilities, of the
response probabilities, and of the risk scores (log hazard ratios, so their mean is the
log of the geometric mean hazard ratio).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from gistcad.errors import ValidationError
from gistcad.neural.augment import view_batch
from gistcad.neural.network import GENOTYPE_ORDER, RESPONSE_INDEX, CovariateFusion


@dataclass(frozen=True, eq=False)
class Predictions:
    """Per-case outputs.

    Attributes
    ----------
    probabilities
        (N, 4) softmax of the genotype logits, columns in
        :data:`~gistcad.neural.network.GENOTYPE_ORDER` (kit11, kit9, pdgfra, wt_other).
    risk_score
        (N,) imaging risk score: a log hazard ratio, higher = earlier recurrence, defined up
        to an additive constant (the Cox partial likelihood fixes no baseline): compare
        cases scored by the same model, never values across models.
    response_probability
        (N,) probability of the response (the sigmoid of the response logit) for a network
        with a response head; None without one.
    """

    probabilities: npt.NDArray[np.float32]
    risk_score: npt.NDArray[np.float32]
    response_probability: npt.NDArray[np.float32] | None = None


def forward_all(
    model: nn.Module,
    crops: npt.ArrayLike,
    batch_size: int = 8,
    *,
    covariates: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float32]:
    """Raw network outputs (N, 5) in eval mode under ``torch.inference_mode``, batched.

    The model runs on the device of its parameters; its train/eval mode is restored after.
    ``covariates`` (N, C) go with the crops to a network that takes them
    (:class:`~gistcad.neural.network.CovariateFusion`).
    """
    array = np.asarray(crops, dtype=np.float32)
    if array.ndim != 5 or array.shape[1] != 2:
        raise ValidationError(
            f"crops must be (N, 2, D, H, W) float32 (image and mask channels), got shape "
            f"{array.shape}; stack Crop.array of each case"
        )
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1, got {batch_size}")
    fused = isinstance(model, CovariateFusion)
    if fused != (covariates is not None):
        raise ValidationError(
            "this network takes covariates: pass covariates=covariate_matrix(...)"
            if fused
            else "this network takes no covariates; call it with the crops alone"
        )
    extra = np.zeros((len(array), 0), np.float32)
    if covariates is not None:
        extra = np.asarray(covariates, dtype=np.float32).reshape(len(array), -1)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with torch.inference_mode():
            for start in range(0, len(array), batch_size):
                batch = torch.from_numpy(np.array(array[start : start + batch_size]))  # a copy
                extra_batch = torch.from_numpy(extra[start : start + batch_size])
                out = (
                    model(batch.to(device), extra_batch.to(device))
                    if fused
                    else model(batch.to(device))
                )
                outputs.append(out.float().cpu().numpy())
    finally:
        model.train(was_training)
    if not outputs:
        return np.zeros((0, len(GENOTYPE_ORDER) + 1), dtype=np.float32)
    return np.concatenate(outputs).astype(np.float32)


def predict(
    model: nn.Module,
    crops: npt.ArrayLike,
    batch_size: int = 8,
    *,
    covariates: npt.ArrayLike | None = None,
) -> Predictions:
    """Genotype probabilities (N, 4), risk scores (N,) and, for a network with a response
    head (six outputs), response probabilities (N,) for crops (N, 2, D, H, W).

    ``covariates`` (N, C) for a network that takes them.
    """
    out = torch.from_numpy(forward_all(model, crops, batch_size, covariates=covariates))
    k = len(GENOTYPE_ORDER)
    probabilities = torch.softmax(out[:, :k], dim=1).numpy()
    response = None
    if out.shape[1] == RESPONSE_INDEX + 1:
        response = torch.sigmoid(out[:, RESPONSE_INDEX]).numpy().copy()
    return Predictions(probabilities, out[:, k].numpy().copy(), response)


#: crops warped at a time for a test-time view (bounds the memory of the sampling grid)
VIEW_CHUNK = 32


def viewed_crops(
    crops: npt.ArrayLike, theta: torch.Tensor, device: torch.device | None = None
) -> npt.NDArray[np.float32]:
    """``crops`` (N, 2, D, H, W) seen through the test-time view ``theta`` (3, 4), warped on
    ``device`` (default the CPU) :data:`VIEW_CHUNK` crops at a time."""
    array = np.asarray(crops, dtype=np.float32)
    out = np.empty_like(array)
    with torch.inference_mode():
        for start in range(0, len(array), VIEW_CHUNK):
            batch = torch.from_numpy(np.array(array[start : start + VIEW_CHUNK]))
            out[start : start + VIEW_CHUNK] = view_batch(batch.to(device), theta).cpu().numpy()
    return out


def predict_mean(
    models: Sequence[nn.Module],
    crops: npt.ArrayLike,
    batch_size: int = 8,
    *,
    covariates: npt.ArrayLike | None = None,
    views: torch.Tensor | None = None,
) -> Predictions:
    """:func:`predict` averaged over ``models`` and over the crops as they are plus each
    test-time view in ``views`` (V, 3, 4) (:func:`gistcad.neural.augment.view_thetas`):
    every (model, view) pair weighs the same.

    One model and no views: exactly :func:`predict`. The covariates are the same for every
    view (the tumour's size is measured on its mask, not on the view).
    """
    if not models:
        raise ValidationError("an ensemble needs at least one network")
    thetas = [] if views is None else list(views)
    if len(models) == 1 and not thetas:
        return predict(models[0], crops, batch_size, covariates=covariates)
    array = np.asarray(crops, dtype=np.float32)
    device = next(models[0].parameters()).device

    def seen() -> Iterator[npt.NDArray[np.float32]]:  # one view's copy of the crops at a time
        yield array
        for theta in thetas:
            yield viewed_crops(array, theta, device)

    each = [
        predict(model, crops_seen, batch_size, covariates=covariates)
        for crops_seen in seen()
        for model in models
    ]
    responses = [p.response_probability for p in each if p.response_probability is not None]
    return Predictions(
        _mean([p.probabilities for p in each]),
        _mean([p.risk_score for p in each]),
        _mean(responses) if len(responses) == len(each) else None,
    )


def _mean(arrays: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    """The element-wise mean of equally shaped arrays, summed in float64."""
    return np.asarray(np.mean(np.stack(arrays), axis=0, dtype=np.float64), dtype=np.float32)
