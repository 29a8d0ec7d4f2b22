"""Evaluate one registered model version: what ``gistcad evaluate`` prints and the Model
performance page shows.

:func:`evaluate_version` takes a version's out-of-fold predictions in the caller's scope and
returns an :class:`Assessment`: the per-center evaluation with the synthetic ceiling (when an
oracle is found: :func:`~gistcad.modelling.oracle_link.find_oracle`), the references a model
is measured against (the other versions of the same target, the baselines, and the ceiling,
per task and center) and, when asked, a DeLong comparison with another version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.performance import delong_test
from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.layout import DataLayout
from gistcad.modelling.evaluation import (
    REFERENCE_AUC_COLUMNS,
    Evaluation,
    auc_by_center,
    evaluate,
    task_scores,
)
from gistcad.modelling.oracle_link import find_oracle
from gistcad.modelling.targets import Target
from gistcad.progress import Progress
from gistcad.store import AccessScope
from gistcad.store.model_queries import (
    ModelVersionDetail,
    find_model_version,
    list_model_versions,
    model_version_detail,
)

#: the reference name of the ceiling among :attr:`Assessment.references`
CEILING = "synthetic ceiling"
#: the column of :func:`~gistcad.modelling.evaluation.evaluate`'s tables that holds it
CEILING_COLUMN = "ceiling_auc"
#: every reference of a synthetic cohort's oracle (the ceiling first): its name among
#: :attr:`Assessment.references` → the column of ``evaluate``'s tables that holds its AUC
SYNTHETIC_REFERENCES = {
    CEILING: CEILING_COLUMN,
    "synthetic ceiling with age and sex": REFERENCE_AUC_COLUMNS["latent_with_age_sex"],
    "synthetic observable reference": REFERENCE_AUC_COLUMNS["observable"],
    "synthetic clinical oracle": REFERENCE_AUC_COLUMNS["clinical_oracle"],
}


@dataclass(frozen=True)
class Assessment:
    """One version's evaluation in the caller's scope.

    ``references``: per task, per reference ("name (kind)" of another version of the same
    target, and :data:`CEILING` when known), the AUC of each center and pooled: what the
    version's margin is read against. ``comparison``: the DeLong test against another
    version (:func:`compare_versions`), when one was asked for.
    """

    detail: ModelVersionDetail
    evaluation: Evaluation
    references: dict[str, dict[str, dict[str, float]]]
    comparison: dict[str, Any] | None = None

    @property
    def target(self) -> Target:
        return Target(self.detail.target)

    def margin(self, task: str, reference: str) -> dict[str, float]:
        """Per center (and pooled): this version's AUC minus the reference's (NaN where
        either is unknown)."""
        table = self.evaluation.tables[task]
        other = self.references[task][reference]
        return {
            str(center): float(auc) - other.get(str(center), np.nan)
            for center, auc in zip(table["center"], table["auc"], strict=True)
        }


def evaluate_version(
    session: Session,
    scope: AccessScope,
    layout: DataLayout,
    model: int | str,
    threshold: float = 0.5,
    *,
    compare: str | None = None,
    oracle: Path | None = None,
    baselines: bool = False,
    progress: Progress | None = None,
) -> Assessment:
    """Evaluate model version ``model`` (its id, or its id or name as typed) out of fold.

    Parameters
    ----------
    threshold
        Probability above which a patient counts as positive (sensitivity, specificity).
    compare
        Another version (id or name): a DeLong test on the patients both evaluated.
    oracle
        A synthetic cohort's ``oracle.csv`` for the ceiling; by default the data folder's
        demo oracle when the demo was built there.
    baselines
        Also give the AUC of every other version of the same target as a reference.
    progress
        Told after each center's bootstrap (:func:`~gistcad.modelling.evaluation.evaluate`).

    Raises
    ------
    NotFoundError
        When there is no such version (or comparison version).
    ValidationError
        When the version has no out-of-fold predictions in the caller's centers.
    """
    if isinstance(model, str):
        model_id, name = find_model_version(session, model, scope)
    else:
        model_id, name = int(model), None
    detail = model_version_detail(session, scope, model_id)
    if detail.oof.empty:
        raise ValidationError(
            f"{name or detail.name} has no out-of-fold predictions for the centers you see"
        )
    target = Target(detail.target)
    other = None
    if compare is not None:
        other_id, other_name = find_model_version(session, compare, scope)
        other = (other_name, model_version_detail(session, scope, other_id).oof)
    evaluation = evaluate(
        detail.oof,
        target,
        threshold=threshold,
        oracle=find_oracle(layout, oracle),
        progress=progress,
    )
    references = _references(session, scope, detail, evaluation) if baselines else {}
    for task, table in evaluation.tables.items():
        for name, column in SYNTHETIC_REFERENCES.items():
            if column in table and (name == CEILING or table[column].notna().any()):
                references.setdefault(task, {})[name] = dict(
                    zip(table["center"], table[column], strict=True)
                )
    comparison = None if other is None else compare_versions(detail.oof, target, *other)
    return Assessment(detail, evaluation, references, comparison)


def _references(
    session: Session, scope: AccessScope, detail: ModelVersionDetail, evaluation: Evaluation
) -> dict[str, dict[str, dict[str, float]]]:
    """Per task, the per-center AUC of every other version that answers it (of the same
    target, or of another whose tasks include it: a KIT exon 11 model beside a genotype
    model on "KIT exon 11 vs rest"), each on its own out-of-fold patients."""
    references: dict[str, dict[str, dict[str, float]]] = {task: {} for task in evaluation.tables}
    for other in list_model_versions(session)["model_version_id"]:
        if int(other) == detail.model_version_id:
            continue
        peer = model_version_detail(session, scope, int(other))
        if peer.oof.empty:
            continue
        for task, aucs in auc_by_center(peer.oof, Target(peer.target)).items():
            if task in references:
                references[task][f"{peer.name} ({ModelKind(peer.kind).label})"] = aucs
    return references


def compare_versions(
    oof: pd.DataFrame, target: Target, other_name: str, other_oof: pd.DataFrame
) -> dict[str, Any]:
    """DeLong test of each task's AUC against another version, on the patients both
    evaluated out of fold.

    ``same_folds``: whether every shared patient was tested in the same fold by both (a
    version trained with the other's folds, ``--folds-from``); when not, the difference
    also contains the luck of the folds.
    """
    shared = oof.merge(other_oof, on="pseudonym", suffixes=("", "_b"))
    if shared.empty:
        raise ValidationError(f"{other_name} and this model share no evaluated patient")
    b = shared[[c for c in shared.columns if c.endswith("_b")]].rename(columns=lambda c: c[:-2])
    b["center"] = shared["center"]
    results = {}
    for task, (score, label) in task_scores(shared, target).items():
        other_score = task_scores(b.assign(pseudonym=shared["pseudonym"]), target)[task][0]
        d = delong_test(score, other_score, label)
        results[task] = {"auc_a": d.auc_a, "auc_b": d.auc_b, "z": d.z, "p_value": d.p_value}
    same_folds = (
        "fold" in shared and "fold_b" in shared and bool((shared["fold"] == shared["fold_b"]).all())
    )
    return {"other": other_name, "n": len(shared), "same_folds": same_folds, "tasks": results}


#: validations whose out-of-fold predictions cover the whole cohort
COHORT_VALIDATIONS = ("kfold", "loco")


@dataclass(frozen=True)
class SharedComparison:
    """Models compared on exactly the same patients, per center and pooled.

    Attributes
    ----------
    task
        The question (e.g. ``kit11_vs_rest``) every model answers.
    models
        The models compared, "name (kind)", the version the page is about first.
    n_patients
        The patients every one of them predicted out of fold (the comparison's patients).
    table
        Per model and center (then all centers pooled): ``model``, ``center``, ``n``,
        ``positives``, ``auc``, ``auc_ci_lower``, ``auc_ci_upper`` (percentile bootstrap,
        1000 resamples; NaN under :data:`~gistcad.modelling.evaluation.MIN_PER_CLASS_FOR_CI`
        of a class).
    paired
        Each other model against the first, per center and pooled, on the same patients:
        ``model``, ``center``, ``n``, ``auc_first``, ``auc_model``, ``difference`` (first
        minus model), ``z``, ``p_value`` (DeLong's test for correlated AUCs; NaN with
        fewer than two patients of a class).
    notes
        What was left out and why, and whether the models used the same folds.
    """

    task: str
    models: tuple[str, ...]
    n_patients: int
    table: pd.DataFrame
    paired: pd.DataFrame
    notes: tuple[str, ...]


def _label(detail: ModelVersionDetail) -> str:
    """E.g. "k11 (Clinical)": the version's name and its kind in words."""
    return f"{detail.name} ({ModelKind(detail.kind).label})"


def _validation(detail: ModelVersionDetail) -> str:
    return str(detail.parameters.get("scheme", ""))


def compare_on_shared_patients(
    session: Session, scope: AccessScope, detail: ModelVersionDetail, task: str, *, seed: int = 0
) -> SharedComparison:
    """``detail`` and every other registered version that answers ``task``, each evaluated
    on the same out-of-fold patients (see :class:`SharedComparison`).

    When ``detail`` was evaluated out of fold on the whole cohort (k-fold or
    leave-one-center-out), a version evaluated on a hold-out only is left out (its few
    hold-out patients would shrink every model's comparison) and a note says so; when
    ``detail`` itself was evaluated on a hold-out, every model is compared on those
    hold-out patients and a note says that. Only the patients that every compared model
    predicted out of fold count.

    Raises
    ------
    ValidationError
        When the models share no patient.
    """
    notes: list[str] = []
    cohort_wide = _validation(detail) in COHORT_VALIDATIONS
    compared = [detail]
    for other in list_model_versions(session)["model_version_id"]:
        if int(other) == detail.model_version_id:
            continue
        peer = model_version_detail(session, scope, int(other))
        if peer.oof.empty or task not in task_scores(peer.oof.head(0), Target(peer.target)):
            continue
        if cohort_wide and _validation(peer) not in COHORT_VALIDATIONS:
            notes.append(
                f"{_label(peer)} is not compared here: it was evaluated on a hold-out of "
                f"{len(peer.oof)} patients, not out of fold on the whole cohort. Choose it "
                "above to compare the models on its hold-out patients."
            )
            continue
        compared.append(peer)
    shared = set(detail.oof["pseudonym"])
    for peer in compared[1:]:
        shared &= set(peer.oof["pseudonym"])
    if not shared:
        raise ValidationError("the models share no patient evaluated out of fold")
    if not cohort_wide:
        notes.insert(
            0,
            f"{_label(detail)} was evaluated on a hold-out of {len(detail.oof)} patients: "
            f"every model is compared on the {len(shared)} of them that all predicted out of "
            "fold, so the per-center intervals are wide.",
        )
    order = sorted(shared)
    frames = {
        _label(d): d.oof.drop_duplicates("pseudonym").set_index("pseudonym").loc[order]
        for d in compared
    }
    first = _label(detail)
    centers = frames[first]["center"].to_numpy()
    scores = {
        name: task_scores(rows.reset_index(), Target(d.target))[task]
        for (name, rows), d in zip(frames.items(), compared, strict=True)
    }
    rows_out, paired = _per_center(scores, first, centers, seed)
    for name, rows in frames.items():
        if name != first and "fold" in rows and "fold" in frames[first]:
            same = bool((rows["fold"].astype(str) == frames[first]["fold"].astype(str)).all())
            notes.append(
                f"{name}: {'the same folds' if same else 'other folds'} as {first}"
                + ("." if same else " (the difference also holds the luck of the folds).")
            )
    columns = ["model", "center", "n", "auc_first", "auc_model", "difference", "z", "p_value"]
    return SharedComparison(
        task=task,
        models=tuple(frames),
        n_patients=len(order),
        table=pd.DataFrame(rows_out),
        paired=pd.DataFrame(paired, columns=columns),
        notes=tuple(notes),
    )


def _per_center(
    scores: dict[str, tuple[np.ndarray, np.ndarray]], first: str, centers: np.ndarray, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each model's AUC with CI per center and pooled, and DeLong's test against ``first``."""
    from gistcad.analysis.performance import bootstrap_auc
    from gistcad.modelling.evaluation import MIN_PER_CLASS_FOR_CI, POOLED

    label = scores[first][1]
    rows_out, paired = [], []
    for center in [*sorted(set(centers)), POOLED]:
        keep = np.ones(label.size, bool) if center == POOLED else centers == center
        y = label[keep]
        smallest = min(int(y.sum()), int(y.size - y.sum()))
        for name, (score, _) in scores.items():
            estimate = bootstrap_auc(score[keep], y, n_boot=1000, seed=seed)
            ci = smallest >= MIN_PER_CLASS_FOR_CI
            rows_out.append(
                {
                    "model": name,
                    "center": center,
                    "n": int(y.size),
                    "positives": int(y.sum()),
                    "auc": estimate.auc,
                    "auc_ci_lower": estimate.ci_lower if ci else np.nan,
                    "auc_ci_upper": estimate.ci_upper if ci else np.nan,
                }
            )
            if name == first:
                continue
            row: dict[str, Any] = {"model": name, "center": center, "n": int(y.size)}
            if smallest >= 2:
                d = delong_test(scores[first][0][keep], score[keep], y)
                row |= {
                    "auc_first": d.auc_a,
                    "auc_model": d.auc_b,
                    "difference": d.difference,
                    "z": d.z,
                    "p_value": d.p_value,
                }
            paired.append(row)
    return rows_out, paired


def reference_notes(table: pd.DataFrame, reference: Mapping[str, float], name: str) -> list[str]:
    """Why a model's AUC can meet or pass a reference such as the ceiling: one sentence per
    center where it does (``table``: :func:`evaluate`'s rows; ``reference``: center → AUC).

    The ceiling is the AUC of the true generating probabilities on the same patients; a
    model can meet it only by sampling error, which its confidence interval shows when it
    holds the ceiling. When the interval lies wholly above, that is worth checking.
    """
    notes = []
    for row in table.itertuples(index=False):
        ceiling = reference.get(str(row.center), np.nan)
        if not np.isfinite(ceiling) or not np.isfinite(row.auc) or row.auc < ceiling:
            continue
        lower, upper = row.auc_ci_lower, row.auc_ci_upper
        head = (
            f"{row.center}: AUC {row.auc:.2f} meets or passes the {name} ({ceiling:.2f}) on "
            f"{row.n} patients."
        )
        if not (np.isfinite(lower) and np.isfinite(upper)):
            notes.append(
                f"{head} Too few patients of a class for a CI: with so few, sampling error "
                "alone can put a model above the ceiling."
            )
        elif lower <= ceiling:
            notes.append(
                f"{head} Its 95 % CI ({lower:.2f}–{upper:.2f}) holds the {name}: sampling "
                "error — on a small sample a model can rank these patients a little better "
                "than the true probabilities do, by chance."
            )
        else:
            notes.append(
                f"{head} Its 95 % CI ({lower:.2f}–{upper:.2f}) lies above it, more than "
                "sampling error explains: check the model for leakage of the label."
            )
    return notes
