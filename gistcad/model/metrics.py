"""Validation metrics of the genotype-and-risk network, array in, number out (NaN if undefined)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata


def accuracy(probabilities: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Share of rows with a known label (>= 0) whose most probable class is the label."""
    p, y = np.asarray(probabilities), np.asarray(labels)
    known = y >= 0
    if not known.any():
        return float("nan")
    return float(np.mean(np.argmax(p[known], axis=1) == y[known]))


def auc_one_vs_rest(scores: npt.ArrayLike, labels: npt.ArrayLike, positive: int) -> float:
    """ROC AUC of ``scores`` for class ``positive`` against the other known classes.

    The Mann–Whitney form: (R₊ − n₊(n₊ + 1)/2) / (n₊ n₋), R₊ the rank sum of the positives,
    ties at mid-ranks (Hanley & McNeil, Radiology 1982).

    >>> auc_one_vs_rest([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0], positive=0)
    0.75
    """
    s, y = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    known = y >= 0
    s, is_pos = s[known], y[known] == positive
    n_pos, n_neg = int(is_pos.sum()), int((~is_pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)
    return float((ranks[is_pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def concordance_index(
    risk: npt.ArrayLike, durations: npt.ArrayLike, events: npt.ArrayLike
) -> float:
    """Harrell's C: among comparable pairs (t_i < t_j, δ_i = 1), the share with r_i > r_j.

    Ties in risk count ½; rows with NaN duration are left out (Harrell et al., JAMA 1982).

    >>> concordance_index([3.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1, 1, 0])
    1.0
    """
    r = np.asarray(risk, dtype=np.float64)
    t = np.asarray(durations, dtype=np.float64)
    e = np.asarray(events) > 0.5
    keep = np.isfinite(t)
    r, t, e = r[keep], t[keep], e[keep]
    comparable = (t[:, None] < t[None, :]) & e[:, None]
    if not comparable.any():
        return float("nan")
    wins = (r[:, None] > r[None, :]) + 0.5 * (r[:, None] == r[None, :])
    return float(wins[comparable].sum() / comparable.sum())
