"""What a model predicts, as label arrays built from the modelling table.

``genotype``: four classes in :class:`~gistcad.domain.GenotypeClass` order (KIT exon 11,
KIT exon 9, PDGFRA, wild-type or other). ``kit11``: KIT exon 11 vs rest. ``risk``: high risk of
recurrence under NIH 2002 (Fletcher) vs not; the definition the synthetic cohort's oracle uses
for its ceiling, so that model and ceiling are measured on the same question.

Two response targets, read from the baseline CT and predicting what imatinib will do (labels
from the stored effective response categories, :func:`gistcad.store.model_queries.
response_labels`): ``choi_pr_fu1``, a Choi partial or complete response at the first
follow-up CT vs not; ``progression_6m``, a RECIST 1.1 progression at or before the follow-up
CT nearest 6 months after the start of treatment vs not.

``rfs``: recurrence-free survival, for a survival model (a penalised Cox model,
:mod:`gistcad.modelling.risk_score_model`) whose risk score is its linear predictor. Its label
is the event flag (1 recurrence observed, 0 censored; −1 without follow-up), which is what
the folds are stratified by; the learner reads the follow-up itself (``rfs_months``,
``rfs_event``) as its training target, and its two "class probabilities" are the predicted
probabilities of staying free of recurrence, and of a recurrence, by 5 years.

Unknown labels are −1 and are left out of training and evaluation of that target (for the
response targets: untreated patients, and those not assessed or not evaluable).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from gistcad.domain import (
    MODEL_TARGET_LABELS,
    RESPONSE_TARGET_LABELS,
    GenotypeClass,
    GenotypeDetail,
    ModelKind,
    RiskScheme,
    genotype_class,
    model_class_label,
)

if TYPE_CHECKING:
    import pandas as pd

CLASSES: tuple[GenotypeClass, ...] = tuple(GenotypeClass)
UNKNOWN = -1


class Target(StrEnum):
    GENOTYPE = "genotype"
    KIT11 = "kit11"
    RISK = "risk"
    CHOI_PR_FU1 = "choi_pr_fu1"
    PROGRESSION_6M = "progression_6m"
    RFS = "rfs"

    @property
    def classes(self) -> tuple[str, ...]:
        """Names of the label values 0, 1, ... (the positive class last for binary targets)."""
        if self is Target.GENOTYPE:
            return tuple(c.value for c in CLASSES)
        if self is Target.KIT11:
            return ("not_kit11", "kit11")
        if self is Target.CHOI_PR_FU1:
            return ("no_choi_pr_fu1", "choi_pr_fu1")
        if self is Target.PROGRESSION_6M:
            return ("no_progression_6m", "progression_6m")
        if self is Target.RFS:
            return ("no_recurrence_5y", "recurrence_5y")
        return ("not_high_risk", "high_risk")

    @property
    def label(self) -> str:
        """E.g. "KIT exon 11 vs rest"; see :data:`~gistcad.domain.MODEL_TARGET_LABELS`."""
        return MODEL_TARGET_LABELS[self.value]

    @property
    def class_labels(self) -> tuple[str, ...]:
        """:attr:`classes` as printed, e.g. ("Not KIT exon 11", "KIT exon 11")."""
        return tuple(model_class_label(c) for c in self.classes)

    @property
    def is_response(self) -> bool:
        """Whether this target is a response to treatment (labelled only for treated
        patients with that assessment)."""
        return self in RESPONSE_TARGETS

    @property
    def is_survival(self) -> bool:
        """Whether this target is a time to event (a survival model's, with a risk score)."""
        return self is Target.RFS


#: The response targets and what their positive class means, for the case card.
RESPONSE_TARGETS: dict[Target, str] = {
    Target(name): label for name, label in RESPONSE_TARGET_LABELS.items()
}


def trainable_targets(kind: ModelKind) -> tuple[Target, ...]:
    """The targets a model of ``kind`` can be trained for, in :class:`Target` order.

    The survival target (the imaging risk score) is a penalised Cox model on radiomics
    features, so only the radiomics model trains it; every kind trains the others.
    """
    return tuple(t for t in Target if not t.is_survival or kind is ModelKind.RADIOMICS)


def genotype_labels(table: pd.DataFrame) -> NDArray[np.int64]:
    """Class index per row in :data:`CLASSES` order; −1 when the genotype is unknown."""

    def index(detail: object) -> int:
        if not isinstance(detail, str):
            return UNKNOWN
        cls = genotype_class(GenotypeDetail(detail))
        return UNKNOWN if cls is None else CLASSES.index(cls)

    return np.array([index(d) for d in table["genotype_detail"]], dtype=np.int64)


def pd_numeric(values: pd.Series) -> NDArray[np.float64]:
    """A column as floats, NaN where missing or not a number (booleans as 0/1)."""
    import pandas as pd

    return np.asarray(pd.to_numeric(values.astype(object), errors="coerce"), dtype=np.float64)


def labels_for(table: pd.DataFrame, target: Target) -> NDArray[np.int64]:
    """The label array of ``target`` (−1 = unknown).

    The response targets read the column of the same name (0/1, missing = unknown), which
    :func:`gistcad.store.model_queries.modelling_table` fills from the stored assessments.
    """
    from gistcad.analysis.grouping import risk_groups  # pandas: not needed for the enum

    if target.is_response:
        values = table[target.value].to_numpy(dtype=float)
        return np.where(np.isfinite(values), values, UNKNOWN).astype(np.int64)
    if target is Target.GENOTYPE:
        return genotype_labels(table)
    if target is Target.RFS:
        months = pd_numeric(table["rfs_months"])
        events = pd_numeric(table["rfs_event"])
        known = np.isfinite(months) & np.isfinite(events) & (months >= 0)
        return np.where(known, np.nan_to_num(events), UNKNOWN).astype(np.int64)
    if target is Target.KIT11:
        genotype = genotype_labels(table)
        kit11 = CLASSES.index(GenotypeClass.KIT11)
        return np.where(genotype == UNKNOWN, UNKNOWN, (genotype == kit11).astype(np.int64))
    risk = risk_groups(table, RiskScheme.NIH_2002).to_numpy()
    known = ~np.isin(risk, ["Unknown", "Not classifiable (count per 5 mm²)"])
    return np.where(known, (risk == "High").astype(np.int64), UNKNOWN)
