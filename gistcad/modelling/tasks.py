"""The modelling steps' pure tasks (:mod:`gistcad.cluster`): what a worker runs for a fold or
a chunk of predictions.

Kept apart from :mod:`gistcad.modelling.trainer` so that a worker unpickling a task imports
only what the task needs (the deep model's PyTorch is not among it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.modelling.learners import Learner, Scores
from gistcad.modelling.radiomics_model import RadiomicsLearner
from gistcad.modelling.risk_score_model import RiskScoreLearner


@dataclass(frozen=True)
class FoldFit:
    """One fold's fit and prediction, a pure task: train and test rows in, scores out."""

    learner: Learner
    table: pd.DataFrame
    labels: NDArray[np.int64]

    def __call__(self, train: NDArray[np.int64], test: NDArray[np.int64]) -> Any:
        return self.learner.fit_predict(self.table, self.labels, train, test)


@dataclass(frozen=True)
class PredictChunk:
    """A chunk of patients' predictions, a pure task: the rows in, their scores out."""

    learner: Learner
    fitted: Any

    def __call__(self, chunk: pd.DataFrame) -> Scores:
        return self.learner.predict(self.fitted, chunk)


def task_learner(learner: Learner) -> Learner:
    """``learner`` as a task takes it to a worker: without its progress callback (which writes
    to this process's job row and does not travel)."""
    if isinstance(learner, RadiomicsLearner | RiskScoreLearner):
        return replace(learner, progress=None)
    return learner
