"""Evaluate one registered model version: what ``gistcad evaluate`` prints and the Model
performance page shows.

:func:`evaluate_version` takes a version's out-of-fold predictions in the caller's scope and
returns an :class:`Assessment`: the per-center evaluation with the synthetic ceiling (when an
oracle is found: :func:`~gistcad.modelling.oracle_link.find_oracle`), the references a model
is measured against (the other versions of the same target, the baselines, and the ceiling,
per task and center) and, when asked, a DeLong comparison with another version.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from gistcad.analysis.performance import delong_test
from gistcad.errors import ValidationError
from gistcad.layout import DataLayout
from gistcad.modelling.evaluation import Evaluation, auc_by_center, evaluate, task_scores
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
    if CEILING_COLUMN in next(iter(evaluation.tables.values())):
        for task, table in evaluation.tables.items():
            references.setdefault(task, {})[CEILING] = dict(
                zip(table["center"], table[CEILING_COLUMN], strict=True)
            )
    comparison = None if other is None else compare_versions(detail.oof, target, *other)
    return Assessment(detail, evaluation, references, comparison)


def _references(
    session: Session, scope: AccessScope, detail: ModelVersionDetail, evaluation: Evaluation
) -> dict[str, dict[str, dict[str, float]]]:
    """Per task, the per-center AUC of every other version of the same target."""
    references: dict[str, dict[str, dict[str, float]]] = {task: {} for task in evaluation.tables}
    target = Target(detail.target)
    for other in list_model_versions(session)["model_version_id"]:
        if int(other) == detail.model_version_id:
            continue
        peer = model_version_detail(session, scope, int(other))
        if peer.target != detail.target or peer.oof.empty:
            continue
        for task, aucs in auc_by_center(peer.oof, target).items():
            references[task][f"{peer.name} ({peer.kind})"] = aucs
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
