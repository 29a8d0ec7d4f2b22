"""A learnable histogram of the CT inside the tumour mask, beside a MONAI network's features.

What CT shows of a GIST's genotype is mostly in the distribution of its voxel values: the
enhancement of the solid part (its level), necrosis (a share of fluid-like voxels),
heterogeneity (its spread). A convolutional network that ends in global average pooling mixes
the tumour with its surroundings, whose fat, bowel and organs vary far more between patients
than the ~10 HU the genotype moves the tumour. Measured on 400-patient synthetic cohorts
(5-fold, KIT exon 11 vs rest), a logistic regression on seven intensity statistics inside the
mask reached 0.64 where the small DenseNet alone reached 0.52–0.62.

:class:`MaskedHistogram` is the learnable histogram layer of Wang et al. ("Learnable histogram:
statistical context features for deep neural networks", ECCV 2016): triangular bins whose
centres and widths are trained with the network, here averaged over the voxels of the tumour
mask only. :class:`HistogramNetwork` concatenates its (batch-normalised) bins with the MONAI
DenseNet's pooled features before the output layer.
"""

from __future__ import annotations

import math

import torch
from monai.networks.nets import DenseNet
from torch import nn


class MaskedHistogram(nn.Module):
    """Soft histogram of the image channel over the mask channel: (N, 2, D, H, W) → (N, bins).

    Bin k counts voxel value v with weight max(0, 1 − |v − c_k| / w_k); the result is the
    mask-weighted mean of those weights, so a bin's value is the share of the tumour near c_k.
    Centres start evenly spread over ``span`` (windowed units: 0–1 is the crop's HU window)
    with widths of one bin spacing.
    """

    def __init__(self, bins: int = 16, span: tuple[float, float] = (0.3, 0.7)) -> None:
        super().__init__()
        low, high = span
        self.centres = nn.Parameter(torch.linspace(low, high, bins))
        self.log_widths = nn.Parameter(torch.full((bins,), math.log((high - low) / bins)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, mask = x[:, 0].flatten(1), x[:, 1].flatten(1)
        # only the voxels inside the mask (a fifth of a typical crop) enter the bins
        inside = mask > 0
        sample = torch.arange(x.shape[0], device=x.device).unsqueeze(1).expand_as(mask)[inside]
        values, share = image[inside].unsqueeze(1), mask[inside].unsqueeze(1)
        distance = (values - self.centres) / self.log_widths.exp()
        weights = torch.relu(1.0 - distance.abs()) * share
        counted = weights.new_zeros(x.shape[0], self.centres.shape[0])
        counted = counted.index_add(0, sample, weights)
        return counted / (mask.sum(dim=1, keepdim=True) + 1e-6)


class HistogramNetwork(nn.Module):
    """MONAI DenseNet features and a :class:`MaskedHistogram`, joined by one linear layer."""

    def __init__(self, dense: DenseNet, n_outputs: int, bins: int = 16) -> None:
        super().__init__()
        self.dense = dense
        self.histogram = MaskedHistogram(bins)
        self.histogram_norm = nn.BatchNorm1d(bins)
        head = dense.class_layers.get_submodule("out")
        if not isinstance(head, nn.Linear):
            raise TypeError(f"expected the DenseNet's nn.Linear head, got {type(head).__name__}")
        features = head.in_features
        self.out = nn.Linear(features + bins, n_outputs)
        nn.init.normal_(self.out.weight, std=0.01)  # near-uniform start, as _small_head
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.dense.features(x)).mean(dim=(2, 3, 4))
        bins = self.histogram_norm(self.histogram(x))
        out: torch.Tensor = self.out(torch.cat([pooled, bins], dim=1))
        return out
