from __future__ import annotations

import pytest
import torch

from gistcad.domain import GenotypeClass
from gistcad.errors import ValidationError
from gistcad.neural.network import (
    GENOTYPE_ORDER,
    Architecture,
    CovariateFusion,
    ModelConfig,
    build_model,
    split_outputs,
)


@pytest.mark.parametrize("architecture", list(Architecture))
def test_output_is_four_logits_and_a_risk_score(architecture: Architecture) -> None:
    cfg = ModelConfig(architecture=architecture, crop_size=32)
    model = build_model(cfg).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 2, 32, 32, 32))
    assert out.shape == (2, 5)
    logits, risk = split_outputs(out)
    assert logits.shape == (2, 4) and risk.shape == (2,)
    # the small head starts near uniform probabilities and a zero risk
    assert float(out.abs().max()) < 1.0


def test_genotype_order_is_the_domain_enum() -> None:
    assert GENOTYPE_ORDER == (
        GenotypeClass.KIT11,
        GenotypeClass.KIT9,
        GenotypeClass.PDGFRA,
        GenotypeClass.WT_OTHER,
    )


def test_config_round_trip_and_validation() -> None:
    cfg = ModelConfig(architecture="densenet121", crop_size=48, dropout=0.1)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert build_model(ModelConfig(dropout=0.35))._dropout.p == 0.35
    with pytest.raises(ValidationError, match="n_classes"):
        ModelConfig(n_classes=3)
    with pytest.raises(ValidationError, match="crop_size must be >= 32"):
        ModelConfig(crop_size=24)
    with pytest.raises(ValidationError, match="dropout"):
        ModelConfig(dropout=1.0)
    with pytest.raises(ValueError):
        ModelConfig(architecture="resnet50")
    with pytest.raises(ValidationError, match="n_covariates"):
        ModelConfig(n_covariates=-1)
    fused = ModelConfig(architecture="densenet-small", crop_size=32, n_covariates=3)
    assert ModelConfig.from_dict(fused.to_dict()) == fused


def test_covariate_fusion_starts_as_its_image_network_and_adds_a_linear_term() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(architecture=Architecture.DENSENET_SMALL, crop_size=32, n_covariates=3)
    model = build_model(cfg).eval()
    assert isinstance(model, CovariateFusion)
    x, c = torch.rand(2, 2, 32, 32, 32), torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 0.0]])
    with torch.no_grad():
        assert torch.equal(model(x, c), model.image(x))  # W = 0, b = 0 at the start
        model.covariates.weight[0] = torch.tensor([1.0, 2.0, 3.0])
        shift = model(x, c) - model.image(x)
    assert shift[:, 0].tolist() == [7.0, 2.0] and not shift[:, 1:].any()
    with pytest.raises(ValidationError, match=r"covariates must have shape \(2, 3\)"):
        model(x, c[:, :2])
