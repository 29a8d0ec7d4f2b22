from __future__ import annotations

import numpy as np
import pytest
import torch

from gistcad.errors import ValidationError
from gistcad.neural.crop import Crop
from gistcad.neural.gradcam import RISK_INDEX, gradcam
from gistcad.neural.network import Architecture, ModelConfig, build_model
from tests.neural.conftest import blob_crops


@pytest.mark.parametrize("architecture", list(Architecture))
def test_map_has_the_crop_shape_and_lies_in_0_1(architecture: Architecture) -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(architecture=architecture, crop_size=32))
    model.train()
    crop = Crop(blob_crops(1)[0][0], np.eye(4), 1.0)
    for index in (0, RISK_INDEX):
        cam = gradcam(model, crop, index)
        assert cam.shape == (32, 32, 32) and cam.dtype == np.float32
        assert np.all(np.isfinite(cam)) and cam.min() >= 0.0 and cam.max() <= 1.0
    assert model.training  # the model is left as it was: mode, gradients, hooks
    assert all(p.grad is None for p in model.parameters())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.modules())
    with pytest.raises(ValidationError, match="class_index"):
        gradcam(model, crop, 5)


def test_map_of_a_fused_network_needs_the_covariates() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(architecture=Architecture.DENSENET_SMALL, crop_size=32, n_covariates=2)
    model = build_model(cfg)
    crop = Crop(blob_crops(1)[0][0], np.eye(4), 1.0)
    cam = gradcam(model, crop, 0, covariates=np.array([0.3, 1.0]))
    assert cam.shape == (32, 32, 32) and cam.min() >= 0.0 and cam.max() <= 1.0
    with pytest.raises(ValidationError, match="takes covariates"):
        gradcam(model, crop, 0)
