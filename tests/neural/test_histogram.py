"""The learnable histogram inside the tumour mask, checked against hand computation."""

from __future__ import annotations

import numpy as np
import torch

from gistcad.neural.histogram import HistogramNetwork, MaskedHistogram
from gistcad.neural.network import Architecture, CovariateFusion, ModelConfig, build_model


def test_bins_count_the_share_of_the_tumour_near_each_centre() -> None:
    layer = MaskedHistogram(bins=5, span=(0.2, 0.6))  # centres 0.2, 0.3, ..., 0.6; width 0.08
    x = torch.zeros(1, 2, 4, 4, 4)
    x[0, 0, :2] = 0.30  # half of the tumour exactly at centre 2
    x[0, 0, 2:] = 0.44  # the other half between centres 3 (0.4) and 4 (0.5)
    x[0, 1, :, :, :2] = 1.0  # the mask covers half of every slice
    x[0, 0, :, :, 2:] = 5.0  # outside the mask: ignored, whatever its value
    bins = layer(x)[0].detach().numpy()
    # by hand: weight max(0, 1 - |v - c| / 0.08) averaged over the mask's voxels; 0.30 is
    # centre 2 (weight 1), 0.44 is 0.04 from centre 3 (0.5) and 0.06 from centre 4 (0.25)
    np.testing.assert_allclose(bins, [0.0, 0.5, 0.5 * 0.5, 0.5 * 0.25, 0.0], atol=1e-6)


def test_centres_and_widths_learn() -> None:
    layer = MaskedHistogram(bins=4)
    x = torch.rand(2, 2, 8, 8, 8)
    layer(x).sum().backward()
    assert layer.centres.grad is not None and layer.log_widths.grad is not None
    assert float(layer.log_widths.grad.abs().sum()) > 0


def test_the_histogram_network_sees_the_tumour_level_that_pooling_mixes_away() -> None:
    cfg = ModelConfig(architecture=Architecture.DENSENET_SMALL_HISTOGRAM, crop_size=32)
    net = build_model(cfg)
    assert isinstance(net, HistogramNetwork)
    fused = build_model(ModelConfig(architecture=cfg.architecture, crop_size=32, n_covariates=3))
    assert isinstance(fused, CovariateFusion) and isinstance(fused.image, HistogramNetwork)
    net.eval()
    x = torch.full((2, 2, 32, 32, 32), 0.2)
    x[:, 1, 12:20, 12:20, 12:20] = 1.0
    x[0, 0, 12:20, 12:20, 12:20] = 0.45  # same crops but for the tumour's level
    x[1, 0, 12:20, 12:20, 12:20] = 0.55
    hist = net.histogram(x)
    assert not torch.allclose(hist[0], hist[1])
