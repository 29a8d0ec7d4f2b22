"""Learners: one object per model kind that the trainer drives the same way.

A learner knows how to fit on some rows of the modelling table and predict class
probabilities for others (used for the out-of-fold predictions), how to fit the final model
on every known row, and how to save and load that model with its checksum.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.artefacts import load_sklearn, save_sklearn
from gistcad.modelling.clinical_baseline import build_clinical_model, clinical_features

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class Scores:
    """What a model says about some patients."""

    probabilities: FloatArray  # (n, n_classes), in the target's class order
    risk_score: FloatArray | None = None  # (n,), higher = earlier recurrence


class UnreadablePatientError(ValidationError):
    """A patient the caller named cannot be read by the model: a tumour without radiomics
    features (:class:`~gistcad.modelling.radiomics_model.UndescribedTumourError`), or an
    outline covering no voxel of the CT for the deep model. Out of a whole cohort such patients
    are left out, with a warning. ``pseudonyms``: those that cannot be read; ``why``: why not."""

    def __init__(self, message: str, pseudonyms: list[str] | None = None, why: str = "") -> None:
        super().__init__(message)
        self.pseudonyms = list(pseudonyms or [])
        self.why = why


def readable_rows(
    table: pd.DataFrame,
    readable: NDArray[np.bool_],
    *,
    named: bool,
    cannot: str,
    why: str,
    advice: str,
    error: type[UnreadablePatientError] = UnreadablePatientError,
) -> pd.DataFrame:
    """The rows of ``table`` the model can read (``readable``); the others are left out with a
    warning naming their pseudonyms and ``why``.

    Raises
    ------
    UnreadablePatientError
        (``error``) When ``named`` (the caller chose these patients) and one of them cannot be
        read, or when none can: "N patient(s) cannot be {cannot} (pseudonyms): {why};
        {advice}".
    """
    if readable.all():
        return table.reset_index(drop=True)
    missing = sorted(table.loc[~readable, "pseudonym"].astype(str))
    if named or not readable.any():
        shown = ", ".join(missing[:5]) + (" and others" if len(missing) > 5 else "")
        raise error(
            f"{len(missing)} patient(s) cannot be {cannot} ({shown}): {why}; {advice}",
            missing,
            why,
        )
    logger.warning("%d patient(s) left out (%s): %s", len(missing), ", ".join(missing), why)
    return table[readable].reset_index(drop=True)


class Learner(Protocol):
    kind: ModelKind
    n_classes: int

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> FloatArray | Scores: ...

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any: ...

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]: ...

    def load(self, path: Path, sha256: str) -> Any: ...

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores: ...


def _full_proba(model: Any, proba: FloatArray, n_classes: int) -> FloatArray:
    out = np.zeros((proba.shape[0], n_classes))
    out[:, model.classes_] = proba
    return out


@dataclass
class ClinicalLearner:
    """Logistic regression on site, size, age and sex (:mod:`.clinical_baseline`)."""

    n_classes: int
    seed: int = 0
    kind: ModelKind = ModelKind.CLINICAL

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any:
        return build_clinical_model(self.seed).fit(
            clinical_features(table).iloc[rows], labels[rows]
        )

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> FloatArray:
        model = self.fit(table, labels, train)
        proba = model.predict_proba(clinical_features(table).iloc[test])
        return _full_proba(model, proba, self.n_classes)

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]:
        path = folder / "model.joblib"
        return path, save_sklearn(fitted, path)

    def load(self, path: Path, sha256: str) -> Any:
        return load_sklearn(path, sha256)

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores:
        proba = fitted.predict_proba(clinical_features(table))
        return Scores(probabilities=_full_proba(fitted, proba, self.n_classes))
