"""The imaging risk score for recurrence-free survival: a ridge Cox model on harmonised radiomics.

Inputs per patient: the IBSI radiomics features of the whole tumour and of its solid part
(:class:`~gistcad.modelling.radiomics_model.RadiomicsSettings` with ``solid_part=True``) and
the log tumour size, prepared as the radiomics search prepares them
(:class:`~gistcad.modelling.radiomics_search.Preprocessing`: median imputation, ComBat per
center with the size protected, near-duplicate removal, standardisation), every step fitted on
the training rows only, so inside each cross-validation fold. A ridge-penalised Cox model
(:mod:`gistcad.analysis.penalised_cox`) is fitted on them, its penalty chosen by the
cross-validated partial likelihood inside the training rows.

The risk score is the linear predictor (log relative hazard; higher = earlier recurrence).
The two "class probabilities" are the predicted probabilities of being free of recurrence,
and of a recurrence, by :data:`HORIZON_MONTHS`, from Breslow's baseline hazard of the training
rows. The follow-up (``rfs_months``, ``rfs_event``) is read only at fitting, as the training
target; never as an input.

With ``deep_risk`` the deep model's risk score (column :data:`DEEP_RISK_COLUMN` of the table)
is a covariate beside the log size, prepared with it (median of the training rows for a missing
value, standardised, kept ahead of the image features in the near-duplicate removal). The
trainer fills the column without in-sample leakage
(:func:`~gistcad.store.model_queries.deep_risk_scores`: the out-of-fold score for the deep
model's training patients); the learner reads it as any other input, inside each fold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistcad.analysis.penalised_cox import (
    PENALTY_GRID,
    breslow_cumulative_hazard,
    choose_penalty,
    fit_ridge_cox,
)
from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.modelling.artefacts import load_sklearn, save_sklearn
from gistcad.modelling.harmonisation import table_centers
from gistcad.modelling.learners import FloatArray, IntArray, Scores
from gistcad.modelling.radiomics_model import (
    RadiomicsSettings,
    described_patients,
    feature_rows,
    feature_table,
)
from gistcad.modelling.radiomics_search import Preprocessing, clinical_covariates
from gistcad.modelling.targets import pd_numeric

logger = logging.getLogger(__name__)

#: the time of the predicted probabilities (and of the calibration), months
HORIZON_MONTHS = 60.0
#: the image features: the whole tumour and its solid part
SETTINGS = RadiomicsSettings(solid_part=True)
#: the covariates beside the image features: the tumour's log size (protected by ComBat)
SIZE_COLUMNS = ["clin_log_size"]
#: the column of the deep model's risk score, an input when the learner has ``deep_risk``
DEEP_RISK_COLUMN = "deep_risk_score"


def follow_up(table: pd.DataFrame) -> tuple[FloatArray, FloatArray]:
    """Recurrence-free survival of each row: months and event flag (the training target)."""
    months = pd_numeric(table["rfs_months"])
    events = pd_numeric(table["rfs_event"])
    if not (np.isfinite(months).all() and np.isfinite(events).all()):
        raise ValidationError(
            "the survival model trains only on patients with a recurrence-free follow-up; "
            "some training rows have none (their rfs label must be -1)"
        )
    return months, events


@dataclass
class RiskScoreLearner:
    """Harmonised radiomics and a ridge Cox model: the imaging risk score (module doc)."""

    n_classes: int
    data_dir: Path
    seed: int = 0
    settings: RadiomicsSettings = SETTINGS
    progress: Callable[[str], None] | None = None
    kind: ModelKind = ModelKind.RADIOMICS
    grid: tuple[float, ...] = PENALTY_GRID
    horizon_months: float = HORIZON_MONTHS
    deep_risk: bool = False

    def _covariates(self, table: pd.DataFrame) -> pd.DataFrame:
        """The covariates beside the image features: log size, and the deep risk score."""
        covariates = clinical_covariates(table)[SIZE_COLUMNS]
        if not self.deep_risk:
            return covariates
        if DEEP_RISK_COLUMN not in table:
            raise ValidationError(
                f"this imaging risk score takes the deep model's risk score as an input, and "
                f"the table has no {DEEP_RISK_COLUMN} column: add it before fitting or predicting"
            )
        return covariates.assign(**{DEEP_RISK_COLUMN: pd_numeric(table[DEEP_RISK_COLUMN])})

    def _features(self, table: pd.DataFrame) -> pd.DataFrame:
        return feature_table(table, self.data_dir, self.settings, self.progress)

    def prepare(
        self,
        table: pd.DataFrame,
        executor: Executor | None,
        progress: Callable[[str], None] | None = None,
        *,
        named: bool = False,
    ) -> pd.DataFrame:
        """Compute (and cache) every patient's features once, before the folds read them;
        returns the rows whose tumour could be described (:func:`described_patients`, which
        refuses when ``named``)."""
        features = feature_rows(
            table, self.data_dir, self.settings, executor, progress or self.progress
        )
        return described_patients(table, features, self.settings, named=named)

    def _design(self, fitted: dict[str, Any], table: pd.DataFrame) -> FloatArray:
        features = self._features(table)
        size = self._covariates(table)
        preprocessing: Preprocessing = fitted["preprocessing"]
        return preprocessing.transform(features, size, table_centers(table))

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any:
        del labels  # the event flags only; the model reads the whole follow-up
        part = table.iloc[rows]
        months, events = follow_up(part)
        features = self._features(part)
        size = self._covariates(part)
        preprocessing = Preprocessing().fit(features, size, table_centers(part))
        x = preprocessing.transform(features, size, table_centers(part))
        if not events.any():
            # no recurrence to learn from: the partial likelihood is flat, the ridge optimum is
            # β = 0 and Breslow's baseline hazard is 0 (every score 0, everyone recurrence-free)
            logger.warning(
                "imaging risk score fitted on %d patients without a recurrence", len(part)
            )
            return self._fitted(preprocessing, np.zeros(x.shape[1]), float("nan"), [], 0.0)
        choice = choose_penalty(x, months, events, grid=self.grid, seed=self.seed)
        fit = fit_ridge_cox(x, months, events, choice.best * len(part))
        lp = fit.linear_predictor(x)
        baseline = float(breslow_cumulative_hazard(lp, months, events, [self.horizon_months])[0])
        logger.info(
            "imaging risk score: %d features, ridge penalty %g per patient",
            x.shape[1],
            choice.best,
        )
        return self._fitted(preprocessing, fit.coef, choice.best, list(choice.cvl), baseline)

    def _fitted(
        self,
        preprocessing: Preprocessing,
        coef: FloatArray,
        penalty: float,
        cvl: list[float],
        baseline: float,
    ) -> dict[str, Any]:
        return {
            "preprocessing": preprocessing,
            "coef": coef,
            "features": list(preprocessing.names_),
            "penalty_per_patient": penalty,
            "cvl": cvl,
            "baseline_hazard": baseline,
            "horizon_months": self.horizon_months,
        }

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> Scores:
        fitted = self.fit(table, labels, train)
        return self.predict(fitted, table.iloc[test])

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]:
        path = folder / "model.joblib"
        return path, save_sklearn(fitted, path)

    def load(self, path: Path, sha256: str) -> Any:
        return load_sklearn(path, sha256)

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores:
        lp = self._design(fitted, table) @ np.asarray(fitted["coef"])
        free = np.exp(-fitted["baseline_hazard"] * np.exp(lp))
        return Scores(
            probabilities=np.column_stack([free, 1.0 - free]),
            risk_score=np.asarray(lp, dtype=np.float64),
        )
