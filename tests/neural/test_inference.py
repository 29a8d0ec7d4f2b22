from __future__ import annotations

import numpy as np
import pytest
import torch

from gistcad.errors import ValidationError
from gistcad.neural.inference import predict
from gistcad.neural.network import ModelConfig, build_model
from tests.neural.conftest import blob_crops


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(crop_size=32))


def test_probabilities_and_risk_batched_like_one_by_one(model: torch.nn.Module) -> None:
    crops = blob_crops(3)[0]
    model.train()
    together = predict(model, crops, batch_size=8)
    alone = predict(model, crops, batch_size=1)
    assert model.training  # mode restored
    assert together.probabilities.shape == (3, 4) and together.risk_score.shape == (3,)
    np.testing.assert_allclose(together.probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(together.probabilities, alone.probabilities, atol=1e-5)
    np.testing.assert_allclose(together.risk_score, alone.risk_score, atol=1e-5)


def test_covariates_go_with_the_crops_of_a_fused_network(model: torch.nn.Module) -> None:
    torch.manual_seed(0)
    fused = build_model(ModelConfig(architecture="densenet-small", crop_size=32, n_covariates=2))
    crops = blob_crops(3)[0]
    covariates = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    together = predict(fused, crops, batch_size=2, covariates=covariates)
    alone = [predict(fused, crops[i : i + 1], covariates=covariates[i : i + 1]) for i in range(3)]
    np.testing.assert_allclose(
        together.risk_score, [a.risk_score[0] for a in alone], atol=1e-5
    )  # each crop kept its own covariates
    with pytest.raises(ValidationError, match="takes covariates"):
        predict(fused, crops)
    with pytest.raises(ValidationError, match="takes no covariates"):
        predict(model, crops, covariates=covariates)


def test_refuses_a_single_crop_without_batch_axis(model: torch.nn.Module) -> None:
    with pytest.raises(ValidationError, match=r"\(N, 2, D, H, W\)"):
        predict(model, blob_crops(1)[0][0])
