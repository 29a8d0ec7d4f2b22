"""What to train: a :class:`TrainRequest`, and its round trip through a job's parameters.

The command line, the jobs page, the job worker, the demo models and the benchmarks all
describe a training run as a plain mapping (a job's JSON parameters, a model version's stored
parameters) and turn it into a request with :meth:`TrainRequest.from_parameters`, the one place
a request is built; :meth:`TrainRequest.to_parameters` writes it back. Light on purpose (no
PyTorch, no scikit-learn): the dashboard validates a request before it queues the job.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from gistcad.domain import ModelKind, Precision
from gistcad.errors import ValidationError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.targets import Target

#: the parameters of a training run (the other keys of a job's parameters are the job's)
FIELDS = (
    "kind",
    "target",
    "scheme",
    "name",
    "seed",
    "epochs",
    "folds_from",
    "deep_model",
    "ensemble",
    "tta",
    "crop",
    "crop_mm",
    "precision",
    "radiomics",
    "radiomics_ensemble",
)
MAX_SEED = 2**32 - 1
MAX_EPOCHS = 1000
#: the deep model's largest seed ensemble and most test-time views (each costs a network's
#: training, or a pass over the crops, again)
MAX_ENSEMBLE = 20
MAX_TTA = 32
#: how the deep model's crop is scaled: "fit" each tumour (the default) or a "fixed" spacing
#: (:class:`gistcad.neural.crop.SpacingPolicy`; named here so that this module stays light)
CROP_POLICIES = ("fit", "fixed")
#: the crop policies as the dashboard names them
CROP_LABELS = {"fit": "fit each tumour", "fixed": "fixed spacing"}
#: the coarsest crop spacing accepted, mm per voxel (a 32-voxel crop then spans 640 mm)
MAX_CROP_MM = 20.0
#: the radiomics model's two pipelines (:mod:`gistcad.modelling.radiomics_model`): the
#: WORC-style "search" (the default) and the tuned "logistic" regression trained before it
RADIOMICS_MODELS = ("search", "logistic")
#: the most candidates the radiomics search's ensemble may keep by choice: one fewer than its
#: grid's 16 (all 16 is the default, which chooses none)
MAX_RADIOMICS_ENSEMBLE = 15
#: the radiomics pipelines as the dashboard names them
RADIOMICS_LABELS = {
    "search": "model search (WORC-style, the default)",
    "logistic": "tuned logistic regression (before the search)",
}
#: the deep model's options, with the values that leave it as it was before they existed
_DEEP_DEFAULTS: dict[str, Any] = {
    "ensemble": 1,
    "tta": 0,
    "crop": "fit",
    "crop_mm": None,
    "precision": "fp32",
}
#: the deep model's arithmetic while it trains (:class:`gistcad.domain.Precision`)
PRECISIONS = tuple(p.value for p in Precision)

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class TrainRequest:
    """One training run: which model, for which target, validated how, named how.

    ``epochs`` applies to the deep model only (None: :class:`DlSettings`' default), and so do
    ``ensemble`` (networks trained with different seeds, averaged), ``tta`` (test-time views
    averaged), ``crop`` ("fit" or "fixed") and ``crop_mm`` (the fixed crop's spacing, or the fit
    crop's finest; None: 1 mm, the fit crop's floor) and ``precision`` (fp32, or mixed
    precision: bf16, or fp16 on CUDA; :class:`gistcad.domain.Precision`) — see
    :class:`gistcad.modelling.dl_model.DlSettings`.
    ``radiomics``: the radiomics model's pipeline for any target but survival, "search"
    (the default: the solid part's features, clinical covariates, ComBat, a search over
    classifiers kept as an ensemble) or "logistic" (the tuned logistic regression on the whole
    tumour's features that was the default before); the imaging risk score has its own.
    ``radiomics_ensemble``: the search keeps the best N candidates by its inner
    cross-validation, as WORC does (None: all of them, without inner cross-validation).
    ``folds_from``: a registered version (its id or name) whose folds this run keeps, so that
    the two are compared on exactly the same folds (None: folds dealt by ``seed``).
    ``deep_model``: a deep model version (id or name) whose risk score is an input of the
    imaging risk score (survival targets only; None: radiomics and size alone).

    Raises
    ------
    ValidationError
        A deep model's risk score asked for a target that is not survival; an ensemble,
        test-time views or a crop asked of another model than the deep one; a fixed crop
        without its spacing; a radiomics pipeline other than the default asked of another
        model, or of the imaging risk score.
    """

    kind: ModelKind
    target: Target
    scheme: Scheme = Scheme.KFOLD
    name: str | None = None
    seed: int = 0
    epochs: int | None = None
    folds_from: str | None = None
    deep_model: str | None = None
    ensemble: int = 1
    tta: int = 0
    crop: str = "fit"
    crop_mm: float | None = None
    precision: str = "fp32"
    radiomics: str = "search"
    radiomics_ensemble: int | None = None

    def __post_init__(self) -> None:
        if self.deep_model is not None and not self.target.is_survival:
            raise ValidationError(
                "the deep model's risk score is an input of the imaging risk score for "
                "recurrence-free survival only: choose that target (the command: --deep-model "
                "with --model radiomics --target rfs)"
            )
        if self.kind is not ModelKind.DL and self._deep_options():
            raise ValidationError(
                "--ensemble, --tta, --crop, --crop-mm and --precision are options of the deep "
                "model: use "
                f"them with --model dl (this is the {self.kind.value} model)"
            )
        if self.radiomics != RADIOMICS_MODELS[0] and (
            self.kind is not ModelKind.RADIOMICS or self.target.is_survival
        ):
            raise ValidationError(
                f"--radiomics {self.radiomics} chooses the radiomics model's pipeline for the "
                "genotype, risk and response targets: use it with --model radiomics (the imaging "
                "risk score for survival is a penalised Cox model of its own)"
            )
        if self.radiomics_ensemble is not None and (
            self.kind is not ModelKind.RADIOMICS
            or self.target.is_survival
            or self.radiomics != RADIOMICS_MODELS[0]
        ):
            raise ValidationError(
                "--radiomics-ensemble sets how many candidates the radiomics model search keeps: "
                "use it with --model radiomics and the search (not --radiomics logistic, nor the "
                "imaging risk score for survival)"
            )
        if self.crop == "fixed" and self.crop_mm is None:
            raise ValidationError(
                "--crop fixed needs the crop's spacing: add --crop-mm (on the Jobs page, "
                '"Crop spacing, mm per voxel"), e.g. 4 mm (a 32-voxel crop then spans 128 mm, '
                "so tumours larger than that are clipped)"
            )

    def _deep_options(self) -> dict[str, Any]:
        """The deep model's options that differ from their defaults."""
        values = {"ensemble": self.ensemble, "tta": self.tta, "crop": self.crop}
        values["crop_mm"] = self.crop_mm
        values["precision"] = self.precision
        return {k: v for k, v in values.items() if v != _DEEP_DEFAULTS[k]}

    def default_name(self) -> str:
        if self.name:
            return self.name
        name = f"{self.kind.value}-{self.target.value}-{self.scheme.value}-s{self.seed}"
        if self.radiomics != RADIOMICS_MODELS[0]:
            name += f"-{self.radiomics}"
        if self.radiomics_ensemble is not None:
            name += f"-best{self.radiomics_ensemble}"
        return name + ("-deep" if self.deep_model else "")

    def to_parameters(self) -> dict[str, Any]:
        """The request as JSON-ready parameters (:meth:`from_parameters` reads them back)."""
        return {
            "kind": self.kind.value,
            "target": self.target.value,
            "scheme": self.scheme.value,
            "name": self.name,
            "seed": self.seed,
            "epochs": self.epochs,
            "folds_from": self.folds_from,
            "deep_model": self.deep_model,
            # only when asked: a request without them is stored as before they existed
            **self._deep_options(),
            **({} if self.radiomics == RADIOMICS_MODELS[0] else {"radiomics": self.radiomics}),
            **(
                {}
                if self.radiomics_ensemble is None
                else {"radiomics_ensemble": self.radiomics_ensemble}
            ),
        }

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> TrainRequest:
        """The request that ``parameters`` describe, checked; keys other than
        :data:`FIELDS` (a job's own: device, predict_all, ...) are left alone.

        Defaults: target genotype, k-fold validation, a name made of the options, seed 0,
        the deep model's default epochs, folds dealt by the seed, a single network without
        test-time views on crops fitted to each tumour, trained in float32, the radiomics
        model search averaging every candidate.
        ``folds_from`` is a model version's id or name (an integer id is accepted too).

        Raises
        ------
        ValidationError
            When the model kind is missing, or a value is not one the option allows.
        """
        if parameters.get("kind") is None:
            raise ValidationError(
                "a training run needs a model kind: one of " + ", ".join(k.value for k in ModelKind)
            )
        name = parameters.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ValidationError(f"a model version name must be some text, not {name!r}")
        epochs = parameters.get("epochs")
        folds_from = _version_reference(parameters.get("folds_from"), "the folds to reuse are")
        deep_model = _version_reference(parameters.get("deep_model"), "the deep model is")
        return cls(
            kind=_member(ModelKind, parameters["kind"], "model kind"),
            target=_member(Target, parameters.get("target") or Target.GENOTYPE, "target"),
            scheme=_member(Scheme, parameters.get("scheme") or Scheme.KFOLD, "validation"),
            name=None if name is None else name.strip(),
            seed=_whole(parameters.get("seed", 0), "seed", 0, MAX_SEED),
            epochs=None if epochs is None else _whole(epochs, "epochs", 1, MAX_EPOCHS),
            folds_from=folds_from,
            deep_model=deep_model,
            ensemble=_whole(
                parameters.get("ensemble", 1), "the ensemble's networks", 1, MAX_ENSEMBLE
            ),
            tta=_whole(parameters.get("tta", 0), "the test-time views", 0, MAX_TTA),
            crop=_crop_policy(parameters.get("crop") or "fit"),
            crop_mm=_crop_mm(parameters.get("crop_mm")),
            precision=_precision(parameters.get("precision") or "fp32"),
            radiomics=_radiomics_model(parameters.get("radiomics") or RADIOMICS_MODELS[0]),
            radiomics_ensemble=None
            if parameters.get("radiomics_ensemble") is None
            else _whole(
                parameters["radiomics_ensemble"],
                "the radiomics search's kept candidates",
                1,
                MAX_RADIOMICS_ENSEMBLE,
            ),
        )


def _version_reference(value: Any, what: str) -> str | None:
    """A model version named by id or name, as text (None or blank: none); ``what`` names
    it in the error ("the folds to reuse are")."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ValidationError(f"{what} named by a model version's id or name, not {value!r}")
    return value.strip() or None


def _one_of(value: Any, choices: tuple[str, ...], refusal: str) -> str:
    """``value`` when it is one of ``choices``; else refused: "unknown ``refusal``"."""
    if value not in choices:
        raise ValidationError(f"unknown {refusal.format(value=value)}")
    return str(value)


def _crop_policy(value: Any) -> str:
    return _one_of(
        value,
        CROP_POLICIES,
        "crop {value!r}: fit (each tumour fills the crop) or fixed (every crop at the spacing "
        "of --crop-mm)",
    )


def _precision(value: Any) -> str:
    return _one_of(
        value,
        PRECISIONS,
        "precision {value!r}: fp32 (the default), bf16 (mixed precision, CPU or GPU) or fp16 "
        "(mixed precision, CUDA GPUs only)",
    )


def _radiomics_model(value: Any) -> str:
    return _one_of(
        value,
        RADIOMICS_MODELS,
        "radiomics model {value!r}: search (the WORC-style model search, the default) or "
        "logistic (the tuned logistic regression trained before it)",
    )


def _crop_mm(value: Any) -> float | None:
    """The crop's spacing in mm (None: not given)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"the crop spacing must be a number of millimetres, not {value!r}")
    if not 0 < value <= MAX_CROP_MM:
        raise ValidationError(
            f"the crop spacing must be above 0 and at most {MAX_CROP_MM:g} mm per voxel, not "
            f"{value:g}"
        )
    return float(value)


def _member(enum: type[_E], value: Any, what: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(m.value for m in enum)
        raise ValidationError(f"unknown {what} {value!r}; one of {choices}") from None


def _whole(value: Any, what: str, lowest: int, highest: int) -> int:
    """``value`` as a whole number in [lowest, highest] (JSON gives int; 3.0 passes)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ValidationError(f"{what} must be a whole number, not {value!r}")
    if not lowest <= int(value) <= highest:
        raise ValidationError(f"{what} must lie between {lowest} and {highest}, not {value}")
    return int(value)
