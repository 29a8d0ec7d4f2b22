"""What to train: a :class:`TrainRequest`, and its round trip through a job's parameters.

The command line, the jobs page, the job worker, the demo models and the benchmarks all
describe a training run as a plain mapping (a job's JSON parameters, a model version's stored
parameters) and turn it into a request with :meth:`TrainRequest.from_parameters`, the one place
a request is built; :meth:`TrainRequest.to_parameters` writes it back. Light on purpose (no
PyTorch, no scikit-learn): the dashboard validates a request before it queues the job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.folds import Scheme
from gistcad.modelling.targets import Target

#: the parameters of a training run (the other keys of a job's parameters are the job's)
FIELDS = ("kind", "target", "scheme", "name", "seed", "epochs", "folds_from", "deep_model")
MAX_SEED = 2**32 - 1
MAX_EPOCHS = 1000

_E = TypeVar("_E", bound=StrEnum)


@dataclass(frozen=True)
class TrainRequest:
    """One training run: which model, for which target, validated how, named how.

    ``epochs`` applies to the deep model only (None: :class:`DlSettings`' default).
    ``folds_from``: a registered version (its id or name) whose folds this run keeps, so that
    the two are compared on exactly the same folds (None: folds dealt by ``seed``).
    ``deep_model``: a deep model version (id or name) whose risk score is an input of the
    imaging risk score (survival targets only; None: radiomics and size alone).

    Raises
    ------
    ValidationError
        A deep model's risk score asked for a target that is not survival.
    """

    kind: ModelKind
    target: Target
    scheme: Scheme = Scheme.KFOLD
    name: str | None = None
    seed: int = 0
    epochs: int | None = None
    folds_from: str | None = None
    deep_model: str | None = None

    def __post_init__(self) -> None:
        if self.deep_model is not None and not self.target.is_survival:
            raise ValidationError(
                "the deep model's risk score is an input of the imaging risk score for "
                "recurrence-free survival only: choose that target (the command: --deep-model "
                "with --model radiomics --target rfs)"
            )

    def default_name(self) -> str:
        if self.name:
            return self.name
        name = f"{self.kind.value}-{self.target.value}-{self.scheme.value}-s{self.seed}"
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
        }

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> TrainRequest:
        """The request that ``parameters`` describe, checked; keys other than
        :data:`FIELDS` (a job's own: device, predict_all, ...) are left alone.

        Defaults: target genotype, k-fold validation, a name made of the options, seed 0,
        the deep model's default epochs, folds dealt by the seed. ``folds_from`` is a model
        version's id or name (an integer id is accepted too).

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
