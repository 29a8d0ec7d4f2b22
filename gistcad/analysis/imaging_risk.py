"""A patient's imaging risk score for recurrence-free survival, placed in its training cohort.

The score of a survival model (:mod:`gistcad.modelling.risk_score_model`, the linear
predictor of a penalised Cox model) has no unit of its own; a tumour board reads it by where
it falls among the out-of-fold scores of the patients the model was validated on: the low,
middle or high tertile, the groups of the Kaplan–Meier figure by out-of-fold risk tertile on
the Model performance page (:func:`gistcad.modelling.survival_evaluation.risk_tertiles`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gistcad.errors import ValidationError

#: the targets whose models give an imaging risk score for survival
SURVIVAL_TARGETS = ("rfs",)
#: the out-of-fold risk tertiles, lowest risk first
TERTILE_LABELS = ("Low", "Middle", "High")


def tertile_cuts(scores: Sequence[float]) -> tuple[float, float]:
    """The lowest scores of the middle and of the high tertile of ``scores``.

    Sorted ascending as :math:`s_{(0)} \\le \\dots \\le s_{(n-1)}`, the patient of rank
    :math:`r` (1-based) is in tertile :math:`\\lfloor 3(r-1)/n \\rfloor` (as
    :func:`~gistcad.modelling.survival_evaluation.risk_tertiles` deals them), so the middle
    tertile starts at :math:`s_{(\\lceil n/3 \\rceil)}` and the high one at
    :math:`s_{(\\lceil 2n/3 \\rceil)}`.

    Parameters
    ----------
    scores : sequence of float, length n ≥ 3
        The training cohort's out-of-fold risk scores (finite).
    """
    finite = sorted(float(s) for s in scores if math.isfinite(float(s)))
    n = len(finite)
    if n < 3:
        raise ValidationError(
            f"the risk tertiles need at least 3 out-of-fold scores; the model has {n}"
        )
    return finite[math.ceil(n / 3)], finite[math.ceil(2 * n / 3)]


def tertile_of(score: float, cuts: tuple[float, float]) -> str:
    """The tertile ("Low", "Middle", "High") that ``score`` falls in, given
    :func:`tertile_cuts` (a score equal to a cut belongs to the higher tertile)."""
    return TERTILE_LABELS[int(score >= cuts[0]) + int(score >= cuts[1])]


@dataclass(frozen=True)
class ImagingRiskScore:
    """One patient's imaging risk score beside the clinical schemes.

    ``score``: the out-of-fold score when the patient was in the model's training cohort
    (fitted without them), else the final model's prediction; ``tertile``: where it falls
    among the ``n_training`` out-of-fold scores of that cohort.
    """

    model_version_id: int
    model: str
    score: float
    tertile: str
    n_training: int
    out_of_fold: bool

    @property
    def plain(self) -> str:
        """E.g. "Imaging risk score 0.84 (rfs-score, version 2): High tertile of 80 training
        patients' out-of-fold scores; out-of-fold (fitted without this patient)"."""
        source = "out-of-fold (fitted without this patient)" if self.out_of_fold else "final model"
        return (
            f"Imaging risk score {self.score:.2f} ({self.model}, version "
            f"{self.model_version_id}): {self.tertile} tertile of {self.n_training} training "
            f"patients' out-of-fold scores; {source}"
        )


def imaging_risk_score(rows: list[Mapping[str, Any]]) -> ImagingRiskScore | None:
    """The newest survival model's score for one patient, from its prediction rows
    (:func:`gistcad.store.model_queries.patient_predictions`, newest first); None when no
    survival model with out-of-fold scores has predicted the patient."""
    for row in rows:
        training = row.get("training_risk_scores")
        if row.get("target") not in SURVIVAL_TARGETS or not training:
            continue
        own = row.get("out_of_fold_risk_score")
        score = own if own is not None else row.get("risk_score")
        if score is None or not math.isfinite(float(score)):
            continue
        try:
            cuts = tertile_cuts(training)
        except ValidationError:
            continue
        return ImagingRiskScore(
            int(row["model_version_id"]),
            str(row["model"]),
            float(score),
            tertile_of(float(score), cuts),
            len(training),
            own is not None,
        )
    return None
