"""The genotype-and-risk network: a MONAI 3-D classifier with five (or six) outputs.

Outputs, in order: four genotype logits in :class:`~gistcad.domain.GenotypeClass` order
(kit11, kit9, pdgfra, wt_other), then one imaging risk score (a log hazard, trained with the
Cox partial likelihood), and — for a network trained for a response target
(``ModelConfig(response_head=True)``) — one response logit (the log odds of the response,
trained with the binary cross-entropy of the treated patients' stored category).
:func:`split_outputs` and :func:`response_logit` separate them. The response output shares the
image features with the genotype and risk outputs: on a few dozen treated patients the
genotype labels (which decide most of the response to imatinib) teach the shared features what
to look for.

Choice of network (measured on this project's 2-core CPU, torch 2.13 CPU build,
``torch.set_num_threads(2)``, warm, median of 15 runs, batch 1, input 2 × 64³):
EfficientNet-B0 78–86 ms per crop, DenseNet121 159–163 ms; at 32³ 17 vs 55 ms. Training
(batch 8 at 64³, forward + backward + AdamW) costs the same for both (364 vs 381 ms per crop).
EfficientNet-B0 also has 4.7 M parameters against 11.3 M.

For cohorts of hundreds of patients the small DenseNet (:attr:`Architecture.DENSENET_SMALL`:
MONAI's ``DenseNet`` with 16 initial features, growth rate 8, blocks of 2, 4 and 4 layers;
0.05 M parameters) is the deep model's default: at 32³ it trains at 5 ms per crop against
62 ms for EfficientNet-B0 (one thread, batch 8), and on 800 synthetic patients (5-fold, signal
1) it learned KIT exon 11 where EfficientNet-B0 trained on the same crops did not (details in
:mod:`gistcad.modelling.dl_model`).

:attr:`Architecture.DENSENET_SMALL_HISTOGRAM` adds a learnable histogram of the CT inside
the tumour mask beside the small DenseNet's pooled features
(:mod:`gistcad.neural.histogram`): the deep model's default since it was measured to find the
genotype where the DenseNet alone did not.

Covariates
----------
With ``n_covariates > 0`` the network is a :class:`CovariateFusion`: the MONAI network's five
outputs plus a linear function of a covariate vector (:mod:`gistcad.neural.covariates`: the
tumour's size and its site), ``out = image(x) + W·c + b``, with ``W`` and ``b`` starting at
zero. The image branch and the covariate terms are trained together, so the image branch
learns what the crop adds to size and site.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

import torch
from monai.networks.nets import DenseNet, DenseNet121, EfficientNetBN
from torch import nn

from gistcad.domain import GenotypeClass
from gistcad.errors import ValidationError
from gistcad.neural.histogram import HistogramNetwork

#: Genotype classes in the order of the network's logits.
GENOTYPE_ORDER: tuple[GenotypeClass, ...] = tuple(GenotypeClass)
#: Index of KIT exon 11 among the logits.
KIT11_INDEX = GENOTYPE_ORDER.index(GenotypeClass.KIT11)


class Architecture(StrEnum):
    EFFICIENTNET_B0 = "efficientnet-b0"
    DENSENET121 = "densenet121"
    DENSENET_SMALL = "densenet-small"
    DENSENET_SMALL_HISTOGRAM = "densenet-small-histogram"


#: The layer Grad-CAM reads for each architecture: the last one before the final stride-2
#: stage (4³ cells at a 64³ crop; the last conv layer has only 2³, too coarse to localise).
GRADCAM_LAYER: dict[Architecture, str] = {
    Architecture.EFFICIENTNET_B0: "_blocks.4",
    Architecture.DENSENET121: "features.transition3.conv",
    Architecture.DENSENET_SMALL: "features.transition1.conv",
    Architecture.DENSENET_SMALL_HISTOGRAM: "dense.features.transition1.conv",
}


@dataclass(frozen=True)
class ModelConfig:
    """What :func:`build_model` builds; stored beside the weights.

    Attributes
    ----------
    architecture
        :class:`Architecture`.
    crop_size
        Voxels per side of the input crop (>= 32); must match the CropSettings' ``size``.
    n_classes
        Genotype classes (4, :data:`GENOTYPE_ORDER`).
    in_channels
        2: windowed image and mask.
    dropout
        EfficientNet: dropout before the final linear layer. DenseNet121 and the small
        DenseNet: dropout inside the dense layers.
    n_covariates
        Length of the covariate vector added to the outputs (:class:`CovariateFusion`);
        0 = image only.
    response_head
        A sixth output, the response logit (:func:`response_logit`), for a response target.
    """

    architecture: Architecture = Architecture.EFFICIENTNET_B0
    crop_size: int = 64
    n_classes: int = len(GENOTYPE_ORDER)
    in_channels: int = 2
    dropout: float = 0.2
    n_covariates: int = 0
    response_head: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "architecture", Architecture(self.architecture))
        if self.crop_size < 32:
            raise ValidationError(
                f"crop_size must be >= 32 voxels (the networks downsample 32-fold; "
                f"EfficientNet-B0 fails below), got {self.crop_size}"
            )
        if self.n_classes != len(GENOTYPE_ORDER):
            raise ValidationError(
                f"n_classes must be {len(GENOTYPE_ORDER)} ({', '.join(GENOTYPE_ORDER)}), "
                f"got {self.n_classes}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValidationError(f"dropout must be in [0, 1), got {self.dropout}")
        if int(self.n_covariates) != self.n_covariates or self.n_covariates < 0:
            raise ValidationError(
                f"n_covariates must be a whole number >= 0, got {self.n_covariates}"
            )

    @property
    def n_outputs(self) -> int:
        """Genotype logits plus the risk score (plus the response logit with a response
        head)."""
        return self.n_classes + 1 + int(self.response_head)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the model registry)."""
        return {**asdict(self), "architecture": self.architecture.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)


class CovariateFusion(nn.Module):
    """A MONAI image network plus a linear term of covariates: ``image(x) + W·c + b``.

    Called as ``model(x, covariates)`` with ``x`` (N, 2, D, H, W) and ``covariates``
    (N, n_covariates); the output is (N, 5) like the image network's. ``W`` and ``b`` start at
    zero, so an untrained fusion predicts what its image network predicts.
    """

    def __init__(self, image: nn.Module, n_covariates: int, n_outputs: int) -> None:
        super().__init__()
        self.image = image
        self.covariates = nn.Linear(n_covariates, n_outputs)
        nn.init.zeros_(self.covariates.weight)
        nn.init.zeros_(self.covariates.bias)

    def forward(self, x: torch.Tensor, covariates: torch.Tensor) -> torch.Tensor:
        expected = (x.shape[0], self.covariates.in_features)
        if tuple(covariates.shape) != expected:
            raise ValidationError(
                f"covariates must have shape {expected} (one row per crop), got "
                f"{tuple(covariates.shape)}; build them with gistcad.neural.covariates"
            )
        out: torch.Tensor = self.image(x) + self.covariates(covariates.to(x))
        return out


def build_model(cfg: ModelConfig) -> nn.Module:
    """The network of ``cfg``: input (N, 2, D, H, W) [and covariates (N, C)], output (N, 5).

    No download. With ``cfg.n_covariates > 0`` a :class:`CovariateFusion` around the MONAI
    network.
    """
    image = _image_network(cfg)
    if cfg.n_covariates:
        return CovariateFusion(image, cfg.n_covariates, cfg.n_outputs)
    return image


def _image_network(cfg: ModelConfig) -> nn.Module:
    if cfg.architecture is Architecture.EFFICIENTNET_B0:
        net = EfficientNetBN(
            "efficientnet-b0",
            pretrained=False,
            progress=False,
            spatial_dims=3,
            in_channels=cfg.in_channels,
            num_classes=cfg.n_outputs,
            # PyTorch's default momentum: MONAI's 0.01 leaves the running statistics near
            # their initial values for hundreds of steps, too slow for small cohorts.
            norm=("batch", {"eps": 1e-3, "momentum": 0.1}),
        )
        net._dropout.p = cfg.dropout
        _small_head(net._fc)
        return net
    if cfg.architecture in (Architecture.DENSENET_SMALL, Architecture.DENSENET_SMALL_HISTOGRAM):
        small = DenseNet(
            spatial_dims=3,
            in_channels=cfg.in_channels,
            out_channels=cfg.n_outputs,
            init_features=16,
            growth_rate=8,
            block_config=(2, 4, 4),
            bn_size=2,
            dropout_prob=cfg.dropout,
        )
        _small_head(small.class_layers.get_submodule("out"))
        if cfg.architecture is Architecture.DENSENET_SMALL_HISTOGRAM:
            return HistogramNetwork(small, cfg.n_outputs)
        return small
    dense = DenseNet121(
        spatial_dims=3,
        in_channels=cfg.in_channels,
        out_channels=cfg.n_outputs,
        pretrained=False,
        progress=False,
        dropout_prob=cfg.dropout,
    )
    _small_head(dense.class_layers.get_submodule("out"))
    return dense


def _small_head(layer: nn.Module) -> None:
    """Start the output layer near zero: uniform genotype probabilities, risk score 0.

    MONAI initialises EfficientNet's last layer as U(±1/√5) for 5 outputs, which gives
    logits of SD ≈ 5 on 1,280 features: measured initial cross-entropy ≈ 6 instead of
    ln 4 ≈ 1.39, and a Cox term as large. N(0, 0.01²) weights and zero bias avoid that.
    """
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"expected the network's last nn.Linear, got {type(layer).__name__}")
    nn.init.normal_(layer.weight, std=0.01)
    nn.init.zeros_(layer.bias)


def split_outputs(outputs: torch.Tensor, n_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Genotype logits (N, n_classes) and risk score (N,) from the network output (N, 5 or 6)."""
    return outputs[:, :n_classes], outputs[:, n_classes]


#: Index of the response logit among the outputs of a network with a response head.
RESPONSE_INDEX = len(GENOTYPE_ORDER) + 1


def response_logit(outputs: torch.Tensor) -> torch.Tensor:
    """The response logit (N,) of a network with a response head (output (N, 6))."""
    if outputs.shape[1] != RESPONSE_INDEX + 1:
        raise ValidationError(
            f"this network has no response head (outputs {outputs.shape[1]}, expected "
            f"{RESPONSE_INDEX + 1}); build it with ModelConfig(response_head=True)"
        )
    return outputs[:, RESPONSE_INDEX]


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise the named device.

    Raises
    ------
    ValidationError
        For ``"cuda"`` when PyTorch sees no CUDA device.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValidationError(
            "--device cuda: PyTorch sees no CUDA device on this machine (no GPU, no driver, "
            "or a CPU build of PyTorch); use --device auto or cpu"
        )
    return torch.device(name)
