"""The response head: a sixth output, its loss, its training, its prediction and its Grad-CAM."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gistcad.errors import ValidationError
from gistcad.neural.crop import Crop
from gistcad.neural.fitting import Monitor, TrainConfig, covariate_start, train_model
from gistcad.neural.gradcam import gradcam
from gistcad.neural.inference import predict
from gistcad.neural.loss import response_cross_entropy, total_loss
from gistcad.neural.network import (
    RESPONSE_INDEX,
    ModelConfig,
    build_model,
    response_logit,
    split_outputs,
)
from tests.neural.conftest import blob_crops

HEAD = ModelConfig(architecture="densenet-small", crop_size=32, response_head=True)
NO_HEAD = ModelConfig(architecture="densenet-small", crop_size=32)


def test_the_head_is_a_sixth_output_after_the_risk_score() -> None:
    assert NO_HEAD.n_outputs == 5 and HEAD.n_outputs == 6 and RESPONSE_INDEX == 5
    crops, _ = blob_crops(2)
    out = build_model(HEAD).eval()(torch.from_numpy(crops))
    assert out.shape == (2, 6)
    logits, risk = split_outputs(out)
    assert logits.shape == (2, 4) and torch.equal(risk, out[:, 4])
    assert torch.equal(response_logit(out), out[:, 5])
    with pytest.raises(ValidationError, match="no response head"):
        response_logit(out[:, :5])
    # stored configs of earlier versions have no such key: they build the five-output network
    stored = NO_HEAD.to_dict()
    del stored["response_head"]
    assert ModelConfig.from_dict(stored) == NO_HEAD
    assert ModelConfig.from_dict(HEAD.to_dict()) == HEAD


def test_response_cross_entropy_by_hand_and_unknown_rows() -> None:
    z = torch.tensor([0.4, -1.0, 2.0, 7.0])
    y = torch.tensor([1, 0, 1, -1])  # the last is unknown
    sigmoid = [1 / (1 + math.exp(-v)) for v in (0.4, -1.0, 2.0)]
    by_hand = -(math.log(sigmoid[0]) + math.log(1 - sigmoid[1]) + math.log(sigmoid[2])) / 3
    assert float(response_cross_entropy(z, y)) == pytest.approx(by_hand, rel=1e-6)
    unknown = torch.tensor([0.3, 0.2], requires_grad=True)
    none = response_cross_entropy(unknown, torch.tensor([-1, -1]))
    none.backward()
    assert float(none.detach()) == 0.0
    assert unknown.grad is not None and float(unknown.grad.abs().sum()) == 0.0


def test_total_loss_adds_the_weighted_response_term() -> None:
    logits, risk = torch.zeros(3, 4), torch.zeros(3)
    labels, durations, events = torch.tensor([0, 1, 2]), torch.full((3,), math.nan), torch.zeros(3)
    weights = torch.ones(4)
    z, y = torch.tensor([1.0, -1.0, 0.0]), torch.tensor([1, 1, 0])
    without = total_loss(logits, risk, labels, durations, events, weights, 0.5)
    with_head = total_loss(
        logits, risk, labels, durations, events, weights, 0.5, (z, y), response_weight=2.0
    )
    assert float(with_head - without) == pytest.approx(2.0 * float(response_cross_entropy(z, y)))


def _response_run(response: np.ndarray, epochs: int = 6) -> float:
    """Best validation AUC of the response (48 crops) after training on 32 crops."""
    crops, genotype = blob_crops(80, seed=7)
    cfg = TrainConfig(
        model=HEAD,
        epochs=epochs,
        batch_size=8,
        learning_rate=3e-3,
        cox_weight=0.0,
        monitor=Monitor.VAL_RESPONSE_LOSS,
        augment=None,
    )
    result = train_model(
        crops, genotype, np.full(80, np.nan), np.zeros(80),
        train_idx=np.arange(32), val_idx=np.arange(32, 80), cfg=cfg, response=response,
    )  # fmt: skip
    assert np.isfinite(result.best.val_response_loss)
    return result.best.val_auc_response


def test_learns_a_response_the_image_shows_and_not_a_shuffled_one() -> None:
    # the response is the bright blob (genotype class 0): visible in every crop; chance 0.5
    # (SD of a null AUC over 24 + 24 crops ≈ 0.085)
    _, genotype = blob_crops(80, seed=7)
    visible = (genotype == 0).astype(np.int64)
    assert _response_run(visible) >= 0.9
    shuffled = np.random.default_rng(11).permutation(visible)
    assert _response_run(shuffled) <= 0.75


def test_unknown_responses_leave_the_loss_and_mismatches_are_refused() -> None:
    crops, genotype = blob_crops(12)
    response = np.where(np.arange(12) % 3 == 0, -1, genotype == 0).astype(np.int64)
    cfg = TrainConfig(model=HEAD, epochs=1, batch_size=4, monitor=Monitor.VAL_RESPONSE_LOSS)
    nan = np.full(12, np.nan)
    result = train_model(
        crops, genotype, nan, np.zeros(12), train_idx=np.arange(8), val_idx=np.arange(8, 12),
        cfg=cfg, response=response,
    )  # fmt: skip
    assert np.isfinite(result.history[0].train_loss)
    with pytest.raises(ValidationError, match="needs response="):
        train_model(crops, genotype, nan, np.zeros(12), train_idx=np.arange(8),
                    val_idx=np.arange(8, 12), cfg=cfg)  # fmt: skip
    with pytest.raises(ValidationError, match="need a network with a response head"):
        train_model(crops, genotype, nan, np.zeros(12), train_idx=np.arange(8),
                    val_idx=np.arange(8, 12), cfg=TrainConfig(model=NO_HEAD, epochs=1),
                    response=response)  # fmt: skip
    with pytest.raises(ValidationError, match="response must be -1"):
        train_model(crops, genotype, nan, np.zeros(12), train_idx=np.arange(8),
                    val_idx=np.arange(8, 12), cfg=cfg, response=np.full(12, 2))  # fmt: skip
    with pytest.raises(ValidationError, match="val_response_loss needs a network"):
        TrainConfig(model=NO_HEAD, monitor=Monitor.VAL_RESPONSE_LOSS)


def test_the_covariate_start_sets_the_response_row() -> None:
    crops, genotype = blob_crops(40, seed=3)
    covariate = np.random.default_rng(4).normal(size=(40, 1)).astype(np.float32)
    response = (covariate[:, 0] > 0).astype(np.int64)
    fused = ModelConfig(
        architecture="densenet-small", crop_size=32, n_covariates=1, response_head=True
    )
    weights, biases = covariate_start(covariate, genotype, 4)
    w, b = covariate_start(covariate, response, 2)
    init = (np.vstack([weights, w[1:]]), np.concatenate([biases, b[1:]]))
    cfg = TrainConfig(model=fused, epochs=1, batch_size=8, learning_rate=1e-9, augment=None)
    result = train_model(
        crops, genotype, np.full(40, np.nan), np.zeros(40), train_idx=np.arange(30),
        val_idx=np.arange(30, 40), cfg=cfg, covariates=covariate, covariate_init=init,
        response=response,
    )  # fmt: skip
    start = result.state_dict["covariates.weight"]
    assert float(start[RESPONSE_INDEX, 0]) == pytest.approx(float(w[1, 0]), abs=1e-4)
    assert float(start[4, 0]) == pytest.approx(0.0, abs=1e-4)  # the risk row stays at zero
    # a logistic regression on a covariate that is the response: a large positive slope
    assert float(w[1, 0]) > 1.0


def test_prediction_and_attention_of_a_network_with_a_response_head() -> None:
    crops, _ = blob_crops(3)
    model = build_model(HEAD).eval()
    result = predict(model, crops)
    assert result.response_probability is not None
    assert result.response_probability.shape == (3,)
    assert ((result.response_probability > 0) & (result.response_probability < 1)).all()
    assert predict(build_model(NO_HEAD).eval(), crops).response_probability is None
    crop = Crop(crops[0], np.eye(4), 1.0)
    cam = gradcam(model, crop, RESPONSE_INDEX)
    assert cam.shape == (32, 32, 32) and cam.min() >= 0.0 and cam.max() <= 1.0
    with pytest.raises(ValidationError, match="for a network with a response head, 5"):
        gradcam(build_model(NO_HEAD).eval(), crop, RESPONSE_INDEX)
