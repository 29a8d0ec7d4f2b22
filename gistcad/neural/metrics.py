"""Validation metrics of the genotype-and-risk network, array in, number out (NaN if undefined)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gistcad.analysis.performance import roc_auc


def accuracy(probabilities: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Share of rows with a known label (>= 0) whose most probable class is the label."""
    p, y = np.asarray(probabilities), np.asarray(labels)
    known = y >= 0
    if not known.any():
        return float("nan")
    return float(np.mean(np.argmax(p[known], axis=1) == y[known]))


def auc_one_vs_rest(scores: npt.ArrayLike, labels: npt.ArrayLike, positive: int) -> float:
    """ROC AUC of ``scores`` for class ``positive`` against the other known classes (>= 0).

    Computed by :func:`gistcad.analysis.performance.roc_auc` on the known rows.

    >>> auc_one_vs_rest([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0], positive=0)
    0.75
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    known = y >= 0
    return roc_auc(s[known], (y[known] == positive).astype(int))
