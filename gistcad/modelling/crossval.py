"""Out-of-fold predictions: every patient is predicted by a model that never saw it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.cluster import map_cases
from gistcad.modelling.folds import FoldPlan, Scheme, plan_folds

FitPredict = Callable[[NDArray[np.int64], NDArray[np.int64]], Any]
Split = tuple[NDArray[np.int64], NDArray[np.int64]]


@dataclass(frozen=True)
class FoldTask:
    """One fold as a pure task: the train and test rows in, the test rows' scores out."""

    fit_predict: FitPredict

    def __call__(self, split: Split) -> Any:
        return self.fit_predict(*split)


def out_of_fold(
    table: pd.DataFrame,
    labels: NDArray[np.int64],
    classes: tuple[str, ...],
    scheme: Scheme,
    fit_predict: FitPredict,
    *,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    plan: FoldPlan | None = None,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Run ``fit_predict(train, test)`` over the folds of ``scheme``.

    The folds are ``plan`` when given, else those :func:`~gistcad.modelling.folds.plan_folds`
    deals by ``seed`` and the table's pseudonyms (the same for any order of the rows).
    ``progress`` is told each fold as it starts: ``"fold k/K (name)"``.

    With an ``executor`` (:func:`gistcad.cluster.cluster_executor`) every fold is a task on
    it, all at once (``fit_predict`` must then be picklable and pure), and ``progress`` is
    told ``"fold k/K (j done)"`` as folds complete; the result is the same as in this process.

    Returns
    -------
    pandas.DataFrame
        One row per tested patient: ``patient_id``, ``pseudonym``, ``center``, ``fold``,
        ``label`` and ``p_<class>`` for every class; when the model gives an imaging risk
        score, also ``risk_score`` with ``rfs_months`` and ``rfs_event``.
    """
    centers = table["center"].to_numpy(dtype=object)
    rows = []
    if plan is None:
        plan = plan_folds(labels, list(table["pseudonym"]), centers, scheme, seed=seed)
    splits = list(plan.splits())
    results = _fold_results(splits, fit_predict, progress, executor)
    for (name, _, test), result in zip(splits, results, strict=True):
        proba = np.asarray(getattr(result, "probabilities", result))
        part = table.iloc[test][["patient_id", "pseudonym", "center"]].copy()
        part["fold"] = name
        part["label"] = labels[test]
        for i, cls in enumerate(classes):
            part[f"p_{cls}"] = proba[:, i]
        risk = getattr(result, "risk_score", None)
        if risk is not None:
            part["risk_score"] = risk
            for column in ("rfs_months", "rfs_event"):
                if column in table:
                    part[column] = table.iloc[test][column].to_numpy()
        rows.append(part)
    return pd.concat(rows, ignore_index=True)


def _fold_results(
    splits: list[tuple[str, NDArray[np.int64], NDArray[np.int64]]],
    fit_predict: FitPredict,
    progress: Callable[[str], None] | None,
    executor: Executor | None,
) -> list[Any]:
    """Every fold's ``fit_predict``, in the order of ``splits``: here, one after another, or
    all at once on ``executor``."""
    if executor is None:
        results = []
        for k, (name, train, test) in enumerate(splits, start=1):
            if progress:
                progress(f"fold {k}/{len(splits)} ({name})")
            results.append(fit_predict(train, test))
        return results
    if progress:
        progress(f"fold 1/{len(splits)} ({len(splits)} folds at once)")

    def completed(message: str, done: int | None = None, total: int | None = None) -> None:
        if progress and done is not None and total is not None and done < total:
            progress(f"fold {done + 1}/{total} ({done} done)")

    pairs = [(train, test) for _, train, test in splits]
    return map_cases(FoldTask(fit_predict), pairs, executor, progress=completed)
