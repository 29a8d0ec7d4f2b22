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

from gistcad.analysis.prediction_source import PredictionSource, final_prediction_source
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
    (fitted without them), else the final model's prediction of a patient it was not trained
    on; ``tertile``: where it falls among the ``n_training`` out-of-fold scores of that
    cohort. Both are None when the model was trained on the patient (or does not record
    whether it was) and has no out-of-fold score of them: the final model's score would be
    in-sample, so none stands for the patient. ``trained_on``: whether the model was trained
    on the patient (None: not recorded).
    """

    model_version_id: int
    model: str
    score: float | None
    tertile: str | None
    n_training: int
    out_of_fold: bool
    trained_on: bool | None

    @property
    def plain(self) -> str:
        """E.g. "Imaging risk score 0.84 (rfs-score, version 2): High tertile of 80 training
        patients' out-of-fold scores; out-of-fold (fitted without this patient)"; without a
        score, why none is shown."""
        name = f"{self.model}, version {self.model_version_id}"
        if self.score is None or self.tertile is None:
            trained = (
                "was trained on this patient"
                if self.trained_on
                else "does not record whether it was trained on this patient"
            )
            return (
                f"Imaging risk score ({name}): not shown — the model {trained} and has no "
                "out-of-fold score of them, so its score would be in-sample"
            )
        source = (
            "out-of-fold (fitted without this patient)"
            if self.out_of_fold
            else "final model, not trained on this patient"
        )
        return (
            f"Imaging risk score {self.score:.2f} ({name}): {self.tertile} tertile of "
            f"{self.n_training} training patients' out-of-fold scores; {source}"
        )


def imaging_risk_score(rows: list[Mapping[str, Any]]) -> ImagingRiskScore | None:
    """The newest survival model's score for one patient, from its prediction rows
    (:func:`gistcad.store.model_queries.patient_predictions`, newest first); None when no
    survival model with out-of-fold scores has predicted the patient.

    The patient's out-of-fold score when they have one; else the final model's score only
    when the model was not trained on them. A training patient without an out-of-fold score
    (a hold-out validation, or an untested center of a leave-one-center-out one) gets no
    score and no tertile (see :attr:`ImagingRiskScore.plain`), nor does a patient of a model
    that does not record its training patients.
    """
    for row in rows:
        training = row.get("training_risk_scores")
        if row.get("target") not in SURVIVAL_TARGETS or not training:
            continue
        version, model = int(row["model_version_id"]), str(row["model"])
        own = row.get("out_of_fold_risk_score")
        source = final_prediction_source(row.get("trained_on"), own is not None)
        trained_on = {
            PredictionSource.IN_SAMPLE: True,
            PredictionSource.FINAL_UNSEEN: False,
        }.get(source)
        if own is None and source is not PredictionSource.FINAL_UNSEEN:
            return ImagingRiskScore(version, model, None, None, len(training), False, trained_on)
        score = own if own is not None else row.get("risk_score")
        if score is None or not math.isfinite(float(score)):
            continue
        try:
            cuts = tertile_cuts(training)
        except ValidationError:
            continue
        return ImagingRiskScore(
            version,
            model,
            float(score),
            tertile_of(float(score), cuts),
            len(training),
            own is not None,
            trained_on,
        )
    return None
