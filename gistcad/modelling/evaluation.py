"""Evaluate out-of-fold predictions per center and pooled, beside the synthetic ceiling.

For each task (a binary question the probabilities answer: KIT exon 11 vs rest, KIT-mutant
vs not, PDGFRA vs rest, high risk vs not, Choi response at the first follow-up vs not,
RECIST progression by 6 months vs not) and for every center and all centers pooled: the
number of patients and positives, the ROC AUC with a patient-level bootstrap 95 % CI,
sensitivity and specificity at the threshold, calibration slope and intercept, and — when the
oracle of a synthetic cohort is given — the ceiling AUC of the Bayes posterior on the same
patients (``ceiling_auc``: given the exact latent phenotype), and the AUCs of the other
references on them (:data:`REFERENCE_AUC_COLUMNS`: the same with age and sex, the observable
reference given what the CT shows, the clinical oracle given site, size, age and sex; NaN
where the oracle lacks them, e.g. for the response tasks).

The pooled row's AUC ranks every patient's out-of-fold score against every other's, although
each fold's model has its own score scale (with leave-one-center-out, each center's model); so
the pooled row also gives ``center_mean_auc``, the unweighted mean of the centers' AUCs (those
with both outcomes), which compares scores only within a center, with its 95 % CI
(``center_mean_auc_ci_lower``/``_upper``: the bootstrap resamples patients within each center
and averages the centers' AUCs, :func:`gistcad.analysis.performance.center_mean_auc`; empty
when an averaged center has fewer than :data:`MIN_PER_CLASS_FOR_CI` of a class, as a center's
own CI is). Center rows leave the three empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gistcad.analysis.performance import (
    at_threshold,
    bootstrap_auc,
    calibration,
    center_mean_auc,
    concordance_index,
    roc_auc,
    roc_curve,
)
from gistcad.errors import ValidationError
from gistcad.modelling.oracle_link import REFERENCES
from gistcad.modelling.targets import Target
from gistcad.progress import Progress, counted

POOLED = "All centers"
ORACLE_COLUMNS = {
    "kit11_vs_rest": "p_kit11",
    "kit_mutant_vs_not": "p_kit_mutant",
    "pdgfra_vs_rest": "p_pdgfra",
    "high_risk_vs_not": "p_high_risk",
    "choi_pr_fu1_vs_not": "p_choi_pr_fu1",
    "progression_6m_vs_not": "p_progression_6m",
}
#: reference name → the column of its AUC in :func:`evaluate`'s tables
REFERENCE_AUC_COLUMNS = {reference: f"{reference}_auc" for reference in REFERENCES}
TASK_LABELS = {
    "kit11_vs_rest": "KIT exon 11 vs rest",
    "kit_mutant_vs_not": "KIT-mutant vs not",
    "pdgfra_vs_rest": "PDGFRA vs rest",
    "high_risk_vs_not": "High risk (NIH 2002) vs not",
    "choi_pr_fu1_vs_not": "Choi response at the first follow-up vs not",
    "progression_6m_vs_not": "RECIST progression by 6 months vs not",
}


def task_scores(oof: pd.DataFrame, target: Target) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per task, (score, 0/1 label) arrays from the out-of-fold frame."""
    label = oof["label"].to_numpy()
    if target.is_survival:  # no binary task: :mod:`.survival_evaluation` measures it
        return {}
    if target is Target.KIT11:
        return {"kit11_vs_rest": (oof["p_kit11"].to_numpy(), label)}
    if target is Target.RISK:
        return {"high_risk_vs_not": (oof["p_high_risk"].to_numpy(), label)}
    if target.is_response:
        return {f"{target.value}_vs_not": (oof[f"p_{target.value}"].to_numpy(), label)}
    return {
        "kit11_vs_rest": (oof["p_kit11"].to_numpy(), (label == 0).astype(int)),
        # KIT exon 13/17 sit in the model's fourth class, so this is exon 11 or 9 vs the rest
        "kit_mutant_vs_not": (
            (oof["p_kit11"] + oof["p_kit9"]).to_numpy(),
            np.isin(label, (0, 1)).astype(int),
        ),
        "pdgfra_vs_rest": (oof["p_pdgfra"].to_numpy(), (label == 2).astype(int)),
    }


MIN_PER_CLASS_FOR_CI = 5


def _row(
    center: str, score: np.ndarray, label: np.ndarray, threshold: float, seed: int
) -> dict[str, Any]:
    auc = bootstrap_auc(score, label, n_boot=1000, seed=seed)
    smallest = min(int(label.sum()), int(label.size - label.sum()))
    estimable = smallest >= MIN_PER_CLASS_FOR_CI  # a percentile CI needs some of each class
    row: dict[str, Any] = {
        "center": center,
        "n": int(label.size),
        "positives": int(label.sum()),
        "auc": auc.auc,
        "auc_ci_lower": auc.ci_lower if estimable else np.nan,
        "auc_ci_upper": auc.ci_upper if estimable else np.nan,
    }
    metrics = at_threshold(score, label, threshold)
    row |= {"sensitivity": metrics.sensitivity, "specificity": metrics.specificity}
    if 0 < label.sum() < label.size and label.size >= 20:
        cal = calibration(np.clip(score, 0, 1), label)
        row |= {"calibration_slope": cal.slope, "calibration_intercept": cal.intercept}
    else:
        row |= {"calibration_slope": np.nan, "calibration_intercept": np.nan}
    return row


#: the pooled row's mean of the per-center AUCs and its 95 % CI
CENTER_MEAN_COLUMNS = ("center_mean_auc", "center_mean_auc_ci_lower", "center_mean_auc_ci_upper")


def _center_mean(
    score: np.ndarray, label: np.ndarray, centers: np.ndarray, seed: int
) -> dict[str, float]:
    """The :data:`CENTER_MEAN_COLUMNS` of one task: the mean over the centers with both
    outcomes, its CI only when each of them has :data:`MIN_PER_CLASS_FOR_CI` of each."""
    mean = center_mean_auc(score, label, centers, n_boot=1000, seed=seed)
    site = centers.astype(str)
    counts = [(int(label[site == c].sum()), int((site == c).sum())) for c in mean.centers]
    smallest = min((min(positives, n - positives) for positives, n in counts), default=0)
    estimable = smallest >= MIN_PER_CLASS_FOR_CI
    return {
        "center_mean_auc": mean.auc,
        "center_mean_auc_ci_lower": mean.ci_lower if estimable else np.nan,
        "center_mean_auc_ci_upper": mean.ci_upper if estimable else np.nan,
    }


def center_mean_text(pooled: Mapping[str, Any], digits: int = 3) -> str:
    """The pooled row's mean of the per-center AUCs with its 95 % CI, as text (NaN or None
    where not estimable, as in a table or its JSON).

    >>> center_mean_text({"center_mean_auc": 0.8125, "center_mean_auc_ci_lower": 0.7,
    ...                   "center_mean_auc_ci_upper": None}, digits=2)
    '0.81 (CI not estimable: a center has under 5 of a class)'
    """

    def known(key: str) -> float | None:
        value = pooled.get(key)
        return None if value is None or not np.isfinite(value) else float(value)

    mean, lower, upper = (known(column) for column in CENTER_MEAN_COLUMNS)
    if mean is None:
        return "not defined (no center has both outcomes)"
    if lower is None or upper is None:
        return (
            f"{mean:.{digits}f} (CI not estimable: a center has under {MIN_PER_CLASS_FOR_CI} "
            "of a class)"
        )
    return f"{mean:.{digits}f} (95 % CI {lower:.{digits}f}–{upper:.{digits}f})"


def _reference_aucs(
    oracle_scores: pd.DataFrame, column: str, label: np.ndarray, keep: np.ndarray
) -> dict[str, float]:
    """``ceiling_auc`` and the :data:`REFERENCE_AUC_COLUMNS` of one task on the kept rows
    (NaN where a patient's posterior is unknown)."""
    sources = {"ceiling_auc": column}
    sources |= {
        auc_column: f"{reference}_{column}"
        for reference, auc_column in REFERENCE_AUC_COLUMNS.items()
    }
    result = {}
    for auc_column, source in sources.items():
        if source not in oracle_scores:
            result[auc_column] = np.nan
            continue
        scores = oracle_scores[source].to_numpy(dtype=float)[keep]
        known = np.isfinite(scores)
        result[auc_column] = roc_auc(scores, label[keep]) if known.all() else np.nan
    return result


@dataclass(frozen=True)
class Evaluation:
    """Per task, a table (one row per center and a pooled row) and the pooled reliability;
    ``concordance``: Harrell's C of the imaging risk score for RFS per center and pooled
    (empty when the model gives no risk score); ``survival``: a survival model's metrics
    (:func:`gistcad.modelling.survival_evaluation.evaluate_survival`; empty for the others);
    ``risk_head``: the same for the risk head of a model of another target that has one (the
    deep model's; :func:`gistcad.modelling.survival_evaluation.evaluate_risk_head`), or
    ``not_evaluated`` with the reason (no recurrence among its patients); empty for the
    others."""

    tables: dict[str, pd.DataFrame]
    reliability: dict[str, list[tuple[float, float, int]]]
    threshold: float
    concordance: dict[str, float] = field(default_factory=dict)
    survival: dict[str, Any] = field(default_factory=dict)
    risk_head: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            return None if isinstance(v, float) and not np.isfinite(v) else v

        return {
            "threshold": self.threshold,
            "tasks": {
                task: [{k: clean(v) for k, v in r.items()} for r in table.to_dict("records")]
                for task, table in self.tables.items()
            },
            "reliability": {k: [list(b) for b in v] for k, v in self.reliability.items()},
            "concordance": {k: clean(v) for k, v in self.concordance.items()},
            "survival": self.survival,
            "risk_head": self.risk_head,
        }


def evaluate(
    oof: pd.DataFrame,
    target: Target,
    *,
    threshold: float = 0.5,
    oracle: pd.DataFrame | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> Evaluation:
    """Per-center and pooled metrics of out-of-fold predictions; see the module doc.

    ``progress`` is told "bootstrap done/total" after each center's bootstrap (of every
    task). A survival target is measured by
    :func:`~gistcad.modelling.survival_evaluation.evaluate_survival` (its ``oof`` carries
    the references, ``size_cm`` and ``modified_nih``, as the trainer stores them); so is the
    risk head of a model of another target that has one (:attr:`Evaluation.risk_head`).
    """
    if oof.empty:
        raise ValidationError("no out-of-fold predictions to evaluate")
    if target.is_survival:
        from gistcad.modelling.survival_evaluation import evaluate_survival

        return Evaluation(
            tables={},
            reliability={},
            threshold=threshold,
            concordance=_c_index(oof),
            survival=evaluate_survival(oof, seed=seed),
        )
    oracle_scores = None
    if oracle is not None:
        oracle_scores = oof[["pseudonym"]].merge(oracle, on="pseudonym", how="left")
    tables, reliability = {}, {}
    centers = oof["center"].to_numpy()
    tasks = task_scores(oof, target)
    groups = [*sorted(set(centers)), POOLED]
    done, total = 0, len(tasks) * len(groups)
    for task, (score, label) in tasks.items():
        rows = []
        for center in groups:
            keep = np.ones(label.size, bool) if center == POOLED else centers == center
            row = _row(center, score[keep], label[keep], threshold, seed)
            if oracle_scores is not None:
                row |= _reference_aucs(oracle_scores, ORACLE_COLUMNS[task], label, keep)
            rows.append(row)
            done += 1
            counted("bootstrap", done, total, progress)
        for row in rows:
            row |= dict.fromkeys(CENTER_MEAN_COLUMNS, np.nan)
        rows[-1] |= _center_mean(score, label, centers, seed)
        tables[task] = pd.DataFrame(rows)
        if 0 < label.sum() < label.size:
            reliability[task] = calibration(np.clip(score, 0, 1), label).bins
    return Evaluation(
        tables=tables,
        reliability=reliability,
        threshold=threshold,
        concordance=_c_index(oof),
        risk_head=_risk_head(oof, seed),
    )


def _risk_head(oof: pd.DataFrame, seed: int) -> dict[str, Any]:
    """The risk head's survival evaluation (empty when the rows carry no risk score)."""
    from gistcad.modelling.survival_evaluation import evaluate_risk_head, has_risk_head

    if not has_risk_head(oof):
        return {}
    try:
        return evaluate_risk_head(oof, seed=seed)
    except ValidationError as error:
        return {"not_evaluated": str(error)}


def auc_by_center(oof: pd.DataFrame, target: Target) -> dict[str, dict[str, float]]:
    """Per task, the AUC of every center and of all centers pooled (no bootstrap: the point
    estimates of :func:`evaluate`'s tables, cheap enough for every baseline of a page)."""
    centers = oof["center"].to_numpy()
    result: dict[str, dict[str, float]] = {}
    for task, (score, label) in task_scores(oof, target).items():
        result[task] = {}
        for center in [*sorted(set(centers)), POOLED]:
            keep = np.ones(label.size, bool) if center == POOLED else centers == center
            result[task][center] = roc_auc(score[keep], label[keep])
    return result


def _c_index(oof: pd.DataFrame) -> dict[str, float]:
    """Harrell's C of ``risk_score`` for recurrence-free survival, per center and pooled."""
    if "risk_score" not in oof or "rfs_months" not in oof:
        return {}
    known = oof["rfs_months"].notna() & oof["rfs_event"].notna()
    data = oof[known]
    result = {
        str(center): concordance_index(part["risk_score"], part["rfs_months"], part["rfs_event"])
        for center, part in data.groupby("center")
    }
    result[POOLED] = concordance_index(data["risk_score"], data["rfs_months"], data["rfs_event"])
    return result


def confusion(oof: pd.DataFrame, classes: tuple[str, ...]) -> pd.DataFrame:
    """Confusion matrix of the most probable class (rows: true, columns: predicted)."""
    probs = oof[[f"p_{c}" for c in classes]].to_numpy()
    predicted = np.array(classes)[probs.argmax(axis=1)]
    true = np.array(classes)[oof["label"].to_numpy()]
    return pd.crosstab(
        pd.Series(pd.Categorical(true, categories=classes), name="true"),
        pd.Series(pd.Categorical(predicted, categories=classes), name="predicted"),
        dropna=False,
    )


def roc_curves(
    oof: pd.DataFrame, target: Target, task: str
) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Per center and pooled: (fpr, tpr, auc) of one task, for the ROC figure."""
    score, label = task_scores(oof, target)[task]
    centers = oof["center"].to_numpy()
    curves = {}
    for center in [*sorted(set(centers)), POOLED]:
        keep = np.ones(label.size, bool) if center == POOLED else centers == center
        if 0 < label[keep].sum() < keep.sum():
            fpr, tpr, _ = roc_curve(score[keep], label[keep])
            curves[center] = (fpr, tpr, roc_auc(score[keep], label[keep]))
    return curves


def misclassified(oof: pd.DataFrame, classes: tuple[str, ...]) -> pd.DataFrame:
    """Patients whose most probable class is not their true class, most confident first."""
    probs = oof[[f"p_{c}" for c in classes]].to_numpy()
    predicted = probs.argmax(axis=1)
    wrong = predicted != oof["label"].to_numpy()
    frame = oof.loc[wrong, ["pseudonym", "center"]].copy()
    frame["true"] = np.array(classes)[oof.loc[wrong, "label"].to_numpy()]
    frame["predicted"] = np.array(classes)[predicted[wrong]]
    frame["probability"] = probs[wrong].max(axis=1)
    return frame.sort_values("probability", ascending=False).reset_index(drop=True)
