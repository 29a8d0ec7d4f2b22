"""Out-of-fold predictions: every patient is predicted by a model that never saw it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gistcad.modelling.folds import FoldPlan, Scheme, plan_folds

FitPredict = Callable[[NDArray[np.int64], NDArray[np.int64]], Any]


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
) -> pd.DataFrame:
    """Run ``fit_predict(train, test)`` over the folds of ``scheme``.

    The folds are ``plan`` when given, else those :func:`~gistcad.modelling.folds.plan_folds`
    deals by ``seed`` and the table's pseudonyms (the same for any order of the rows).
    ``progress`` is told each fold as it starts: ``"fold k/K (name)"``.

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
    for k, (name, train, test) in enumerate(splits, start=1):
        if progress:
            progress(f"fold {k}/{len(splits)} ({name})")
        result = fit_predict(train, test)
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
