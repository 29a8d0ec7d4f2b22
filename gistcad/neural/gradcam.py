"""Where the network looked: Grad-CAM maps on the crop grid (MONAI's ``GradCAM``).

Grad-CAM weights each channel of a convolutional layer's output by the spatial mean of the
class score's gradient and keeps the positive part of the sum (Selvaraju et al., ICCV 2017).
The layer is :data:`~gistcad.neural.network.GRADCAM_LAYER` of the architecture — for
EfficientNet-B0 the last stage before the final downsampling (4³ cells at a 64³ crop), as the
last conv layer has only 2³ — and the map is upsampled trilinearly to the crop grid.
:func:`gistcad.neural.crop.to_image_grid` puts it back on the CT. For the histogram network
(:mod:`gistcad.neural.histogram`) the map shows what its convolutional branch looked at; the
histogram of the tumour's values has no place of its own to show.
"""

from __future__ import annotations

import copy

import numpy as np
import numpy.typing as npt
import torch
from monai.networks.nets import DenseNet, DenseNet121, EfficientNetBN
from monai.visualize import GradCAM
from torch import nn

from gistcad.errors import ValidationError
from gistcad.neural.crop import Crop
from gistcad.neural.histogram import HistogramNetwork
from gistcad.neural.network import (
    GENOTYPE_ORDER,
    GRADCAM_LAYER,
    RESPONSE_INDEX,
    Architecture,
    CovariateFusion,
)

#: ``class_index`` of the imaging risk score (after the genotype logits).
RISK_INDEX = len(GENOTYPE_ORDER)


def target_layer(model: nn.Module) -> str:
    """Name of the layer Grad-CAM reads in ``model`` (a network from ``build_model``)."""
    if isinstance(model, CovariateFusion):
        return f"image.{target_layer(model.image)}"
    if isinstance(model, EfficientNetBN):
        return GRADCAM_LAYER[Architecture.EFFICIENTNET_B0]
    if isinstance(model, HistogramNetwork):
        return GRADCAM_LAYER[Architecture.DENSENET_SMALL_HISTOGRAM]
    if isinstance(model, DenseNet121):
        return GRADCAM_LAYER[Architecture.DENSENET121]
    if isinstance(model, DenseNet):
        return GRADCAM_LAYER[Architecture.DENSENET_SMALL]
    raise ValidationError(
        f"no Grad-CAM layer known for {type(model).__name__}; pass layer= explicitly"
    )


def _bad_index(class_index: int) -> ValidationError:
    return ValidationError(
        f"class_index must be 0–{RISK_INDEX - 1} (genotype: {', '.join(GENOTYPE_ORDER)}), "
        f"{RISK_INDEX} (risk score) or, for a network with a response head, {RESPONSE_INDEX} "
        f"(response), got {class_index}"
    )


def _min_max(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map (N, 1, ...) to [0, 1]; a constant map becomes zeros.

    MONAI's default normaliser maps (min, max) to (1, 0), which would invert the map.
    """
    flat = maps.reshape(maps.shape[0], -1)
    low = flat.min(dim=1).values.reshape(-1, *([1] * (maps.ndim - 1)))
    span = flat.max(dim=1).values.reshape(low.shape) - low
    return torch.where(span > 0, (maps - low) / span.clamp_min(1e-12), torch.zeros_like(maps))


def gradcam(
    model: nn.Module,
    crop: Crop,
    class_index: int,
    *,
    covariates: npt.ArrayLike | None = None,
    layer: str | None = None,
) -> npt.NDArray[np.float32]:
    """Grad-CAM of one output for one crop, shape (D, H, W), values in [0, 1].

    Parameters
    ----------
    model
        A network from :func:`~gistcad.neural.network.build_model`; a copy runs in eval mode,
        the model itself is not changed.
    crop
        The case's :class:`~gistcad.neural.crop.Crop`.
    class_index
        0–3: the genotype logit in :data:`~gistcad.neural.network.GENOTYPE_ORDER`;
        4 (:data:`RISK_INDEX`): the imaging risk score; 5
        (:data:`~gistcad.neural.network.RESPONSE_INDEX`): the response logit of a network
        with a response head.
    covariates
        The case's covariate vector (C,), for a network that takes covariates
        (:class:`~gistcad.neural.network.CovariateFusion`); the map shows where the image
        branch looked.
    layer
        Dotted module name; default :func:`target_layer`.
    """
    if not 0 <= class_index <= RESPONSE_INDEX:
        raise _bad_index(class_index)
    name = layer or target_layer(model)
    # MONAI registers hooks it never removes and switches activations to out-of-place: work on
    # a copy (≈ 20 MB for EfficientNet-B0) so the caller's model is left exactly as it was.
    probe = copy.deepcopy(model)
    device = next(probe.parameters()).device
    cam = GradCAM(probe, target_layers=name, postprocessing=_min_max)
    x = torch.from_numpy(np.array(crop.array, dtype=np.float32)[None]).to(device)
    extra = {}
    if isinstance(probe, CovariateFusion):
        if covariates is None:
            raise ValidationError(
                "this network takes covariates: pass covariates=covariate_matrix(...)[0]"
            )
        row = np.asarray(covariates, dtype=np.float32).reshape(1, -1)
        extra["covariates"] = torch.from_numpy(row).to(device)
    with torch.enable_grad():
        try:
            maps = cam(x, class_idx=class_index, **extra)
        except IndexError as error:  # the response logit of a network without that head
            raise _bad_index(class_index) from error
    return np.clip(maps[0, 0].detach().cpu().numpy(), 0.0, 1.0).astype(np.float32)
