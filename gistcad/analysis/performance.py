"""Discrimination and calibration of a model, as a principal investigator reviews it per center.

Pure functions over scores and labels: ROC AUC (Mann-Whitney form) with a patient-level
bootstrap CI, the mean of per-center AUCs with a bootstrap stratified by center, the ROC
curve, sensitivity and specificity at a threshold, calibration slope and intercept with a
reliability curve, Harrell's concordance index for a risk score, and DeLong's paired test for
two AUCs on the same patients.

References
----------
.. [HM82] Hanley JA, McNeil BJ. The meaning and use of the area under a ROC curve.
   Radiology 1982;143:29-36.
.. [DDC88] DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more
   correlated ROC curves: a nonparametric approach. Biometrics 1988;44:837-845.
.. [SX14] Sun X, Xu W. Fast implementation of DeLong's algorithm. IEEE Signal Process Lett
   2014;21:1389-1393.
.. [Cox58] Cox DR. Two further applications of a model for binary regression. Biometrika
   1958;45:562-565 (calibration slope and intercept).
.. [Har82] Harrell FE et al. Evaluating the yield of medical tests. JAMA 1982;247:2543-2546.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from scipy.special import expit, logit

from gistcad.errors import ValidationError

FloatArray = NDArray[np.float64]


def _binary(scores: ArrayLike, labels: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels)
    if s.ndim != 1 or s.shape != y.shape:
        raise ValidationError(
            f"scores and labels must be 1-D and of equal length (got {s.shape}, {y.shape})"
        )
    if not np.isfinite(s).all():
        raise ValidationError("scores contain NaN or infinite values; drop those patients first")
    if not np.isin(y, (0, 1)).all():
        raise ValidationError("labels must be 0 or 1 (positive class = 1)")
    return s, y.astype(bool)


def _midranks(values: FloatArray) -> FloatArray:
    return np.asarray(stats.rankdata(values, method="average"), dtype=float)


def roc_auc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve = P(score of a positive > score of a negative), ties count half.

    Computed from mid-ranks (the Mann-Whitney U statistic [HM82]_); NaN when a class is empty.
    """
    s, y = _binary(scores, labels)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = _midranks(s)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with its percentile bootstrap CI.

    Attributes
    ----------
    auc, ci_lower, ci_upper
        Point estimate and the (1 − alpha) percentile interval over bootstrap resamples of
        patients (NaN when a class is empty or too few resamples contain both classes).
    n, n_positive
        Patients and positives.
    n_boot
        Resamples that contained both classes (the others are discarded).
    """

    auc: float
    ci_lower: float
    ci_upper: float
    n: int
    n_positive: int
    n_boot: int

    def __str__(self) -> str:
        if np.isnan(self.auc):
            return "not estimable"
        return f"{self.auc:.3f} ({self.ci_lower:.3f}–{self.ci_upper:.3f})"


def bootstrap_auc(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> AucEstimate:
    """AUC with a patient-level percentile bootstrap CI (one row = one patient).

    Resamples patients with replacement ``n_boot`` times (seeded), recomputes the AUC and
    takes the alpha/2 and 1 − alpha/2 percentiles. Resamples lacking a class are discarded.
    """
    s, y = _binary(scores, labels)
    auc = roc_auc(s, y)
    n = s.size
    if np.isnan(auc):
        return AucEstimate(auc, float("nan"), float("nan"), n, int(y.sum()), 0)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    offsets = (np.arange(n_boot) * n)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * n).reshape(n_boot, n)
    aucs = _weighted_aucs(s, y, counts)
    aucs = aucs[np.isfinite(aucs)]
    if aucs.size < 10:
        return AucEstimate(auc, float("nan"), float("nan"), n, int(y.sum()), int(aucs.size))
    low, high = np.quantile(aucs, [alpha / 2, 1 - alpha / 2])
    return AucEstimate(auc, float(low), float(high), n, int(y.sum()), int(aucs.size))


@dataclass(frozen=True)
class CenterMeanAuc:
    """The unweighted mean of the per-center AUCs, with its bootstrap percentile CI.

    Attributes
    ----------
    auc, ci_lower, ci_upper
        The mean over ``centers`` and the (1 − alpha) percentile interval of the mean over
        resamples of patients within each center (NaN when no center has both classes, or
        too few resamples give every averaged center both classes).
    centers
        The centers averaged: those with both classes, sorted.
    n_boot
        Resamples in which every averaged center drew both classes (the others are
        discarded).
    """

    auc: float
    ci_lower: float
    ci_upper: float
    centers: tuple[str, ...]
    n_boot: int


def center_mean_auc(
    scores: ArrayLike,
    labels: ArrayLike,
    centers: ArrayLike,
    *,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
) -> CenterMeanAuc:
    r"""Mean of the per-center AUCs, :math:`\bar A = \frac1K \sum_k AUC_k`, over the K
    centers with both classes, with a bootstrap stratified by center.

    Each AUC ranks a center's patients against each other only, so the mean does not mix the
    score scales of models fitted per fold or per held-out center, as the AUC of all patients
    pooled does. Each resample draws every center's patients with replacement, as many as it
    has (centers are fixed, patients are sampled [HM82]_), recomputes each center's AUC and
    averages them; resamples in which an averaged center lacks a class are discarded, and
    the interval is the alpha/2 and 1 − alpha/2 percentiles. With one center this is
    :func:`bootstrap_auc` (same seed, same resamples).

    Parameters
    ----------
    scores, labels : array_like, shape (n,)
        Score and 0/1 label of every patient.
    centers : array_like, shape (n,)
        Each patient's center.
    n_boot, alpha, seed
        Resamples, the interval's level 1 − alpha, and the seed of the resampling.
    """
    s, y = _binary(scores, labels)
    site = np.asarray(centers).astype(str)
    if site.shape != s.shape:
        raise ValidationError(
            f"centers must give one center per patient (got {site.shape} for {s.shape} scores)"
        )
    kept = tuple(
        c for c in sorted(set(site.tolist())) if 0 < y[site == c].sum() < (site == c).sum()
    )
    if not kept:
        return CenterMeanAuc(float("nan"), float("nan"), float("nan"), (), 0)
    auc = float(np.mean([roc_auc(s[site == c], y[site == c]) for c in kept]))
    rng = np.random.default_rng(seed)
    replicates = np.zeros(n_boot)
    for c in kept:
        sc, yc = s[site == c], y[site == c]
        n = sc.size
        draws = rng.integers(0, n, size=(n_boot, n))
        offsets = (np.arange(n_boot) * n)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=n_boot * n)
        replicates += _weighted_aucs(sc, yc, counts.reshape(n_boot, n))
    replicates = replicates[np.isfinite(replicates)] / len(kept)
    if replicates.size < 10:
        return CenterMeanAuc(auc, float("nan"), float("nan"), kept, int(replicates.size))
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2])
    return CenterMeanAuc(auc, float(low), float(high), kept, int(replicates.size))


def _weighted_aucs(s: FloatArray, y: NDArray[np.bool_], weights: NDArray[np.int64]) -> FloatArray:
    """AUC of every row of ``weights`` (how often each patient is drawn), ties counted half.

    Vectorised Mann-Whitney: with patients grouped by distinct score, a positive in group g
    beats the negatives of all lower groups and ties with those of group g, so
    AUC = Σ_g P_g (N_<g + N_g / 2) / (P · N) with P_g, N_g the drawn positives and negatives.
    """
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    w = weights[:, order].astype(float)
    starts = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
    pos = np.add.reduceat(w * y_sorted, starts, axis=1)
    neg = np.add.reduceat(w * ~y_sorted, starts, axis=1)
    below = np.cumsum(neg, axis=1) - neg
    total_pos, total_neg = pos.sum(axis=1), neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + neg / 2)).sum(axis=1) / (total_pos * total_neg)


def roc_curve(scores: ArrayLike, labels: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """False- and true-positive rates at every distinct threshold (score >= threshold).

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        From (0, 0) at threshold +inf to (1, 1) at the lowest score.
    """
    s, y = _binary(scores, labels)
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    last_of_value = np.r_[np.flatnonzero(np.diff(s_sorted)), s_sorted.size - 1]
    positives, negatives = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    tp = np.cumsum(y_sorted)[last_of_value]
    fp = np.cumsum(~y_sorted)[last_of_value]
    thresholds = np.concatenate([[np.inf], s_sorted[last_of_value]])
    tpr = np.concatenate([[0.0], tp / positives])
    fpr = np.concatenate([[0.0], fp / negatives])
    return fpr, tpr, thresholds


@dataclass(frozen=True)
class ThresholdMetrics:
    threshold: float
    sensitivity: float
    specificity: float
    true_positive: int
    false_negative: int
    true_negative: int
    false_positive: int


def at_threshold(scores: ArrayLike, labels: ArrayLike, threshold: float) -> ThresholdMetrics:
    """Sensitivity and specificity calling ``score >= threshold`` positive."""
    s, y = _binary(scores, labels)
    called = s >= threshold
    tp, fn = int((called & y).sum()), int((~called & y).sum())
    tn, fp = int((~called & ~y).sum()), int((called & ~y).sum())
    sens = tp / (tp + fn) if tp + fn else float("nan")
    spec = tn / (tn + fp) if tn + fp else float("nan")
    return ThresholdMetrics(threshold, sens, spec, tp, fn, tn, fp)


@dataclass(frozen=True)
class Calibration:
    """Calibration of predicted probabilities.

    Attributes
    ----------
    slope
        Coefficient of logit(p) in a logistic regression of the outcome on logit(p): 1 is
        ideal, < 1 means predictions too extreme [Cox58]_.
    intercept
        Calibration-in-the-large: the intercept of that regression with logit(p) as offset
        (slope fixed at 1): 0 is ideal, > 0 means predictions too low on average.
    bins
        Reliability curve: per bin of predicted probability, the mean prediction, the
        observed frequency and the count.
    """

    slope: float
    intercept: float
    bins: list[tuple[float, float, int]]


def _logistic_fit(x: FloatArray, y: FloatArray, offset: FloatArray, fit_slope: bool) -> FloatArray:
    """Newton-Raphson for logit P(y) = a + b·x + offset (b fixed at 0 unless ``fit_slope``)."""
    design = np.column_stack([np.ones_like(x), x]) if fit_slope else np.ones((x.size, 1))
    beta = np.zeros(design.shape[1])
    for _ in range(100):
        p = expit(design @ beta + offset)
        gradient = design.T @ (y - p)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-9 * np.eye(beta.size)
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    return beta


def calibration(probabilities: ArrayLike, labels: ArrayLike, *, n_bins: int = 10) -> Calibration:
    """Calibration slope, intercept and a reliability curve of equal-count bins."""
    p, y = _binary(probabilities, labels)
    if ((p < 0) | (p > 1)).any():
        raise ValidationError("probabilities must lie in [0, 1]")
    if y.all() or not y.any():
        raise ValidationError("calibration needs both outcomes among the patients")
    lp = logit(np.clip(p, 1e-6, 1 - 1e-6))
    yf = y.astype(float)
    slope = float(_logistic_fit(lp, yf, np.zeros_like(lp), fit_slope=True)[1])
    intercept = float(_logistic_fit(lp, yf, lp, fit_slope=False)[0])
    order = np.argsort(p, kind="stable")
    bins = [
        (float(p[chunk].mean()), float(yf[chunk].mean()), int(chunk.size))
        for chunk in np.array_split(order, min(n_bins, p.size))
        if chunk.size
    ]
    return Calibration(slope=slope, intercept=intercept, bins=bins)


def concordance_index(risk: ArrayLike, durations: ArrayLike, events: ArrayLike) -> float:
    """Harrell's C: among usable pairs, the share where the higher risk fails first [Har82]_.

    A pair is usable when the shorter time is an event; ties in risk count half. Of two
    patients with the same time, an event and a censoring make a usable pair (the censored
    patient was still event-free at that time, as R's ``survival::concordance`` and Hmisc's
    ``rcorr.cens`` count it); two events or two censorings do not. Higher ``risk`` means
    earlier failure.
    """
    r = np.asarray(risk, dtype=float)
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events).astype(bool)
    if not (r.shape == t.shape == e.shape) or r.ndim != 1:
        raise ValidationError("risk, durations and events must be 1-D and of equal length")
    ok = np.isfinite(r) & np.isfinite(t)
    r, t, e = r[ok], t[ok], e[ok]
    usable = harrell_usable_pairs(t, e)
    if not usable.any():
        return float("nan")
    higher = r[:, None] > r[None, :]
    tied = r[:, None] == r[None, :]
    return float((usable & higher).sum() + 0.5 * (usable & tied).sum()) / float(usable.sum())


def harrell_usable_pairs(times: FloatArray, events: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """(n, n): whether i fails while j is still event-free, the usable pairs of Harrell's C.

    i's event comes before j's last follow-up, or at the same time when j is censored then.
    """
    before = times[:, None] < times[None, :]
    censored_at_the_same_time = (times[:, None] == times[None, :]) & ~events[None, :]
    return np.asarray((before | censored_at_the_same_time) & events[:, None], dtype=np.bool_)


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    difference: float
    se: float
    z: float
    p_value: float


def _structural_components(s: FloatArray, y: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    """DeLong's placement values V10 (per positive) and V01 (per negative) [SX14]_."""
    pos, neg = s[y], s[~y]
    m, n = pos.size, neg.size
    all_ranks = _midranks(np.concatenate([pos, neg]))
    v10 = (all_ranks[:m] - _midranks(pos)) / n
    v01 = 1.0 - (all_ranks[m:] - _midranks(neg)) / m
    return v10, v01


def delong_test(scores_a: ArrayLike, scores_b: ArrayLike, labels: ArrayLike) -> DeLongResult:
    """DeLong's test of two correlated AUCs on the same patients [DDC88]_ (two-sided).

    ``z`` and ``p_value`` are NaN where the AUCs differ but their difference has no estimated
    variance (e.g. a perfect model against one that scores every patient alike).
    """
    a, y = _binary(scores_a, labels)
    b, _ = _binary(scores_b, labels)
    if a.shape != b.shape:
        raise ValidationError("the two models must score the same patients")
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ValidationError("DeLong's test needs at least two patients of each class")
    v10 = np.vstack([_structural_components(s, y)[0] for s in (a, b)])
    v01 = np.vstack([_structural_components(s, y)[1] for s in (a, b)])
    aucs = v10.mean(axis=1)
    cov = np.cov(v10) / m + np.cov(v01) / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    if var <= 0:
        # no spread of the placement values: equal AUCs do not differ; unequal ones (say, one
        # model separates the classes perfectly, the other scores everyone alike) cannot be
        # tested, which is not the same as "no difference"
        z, p = (0.0, 1.0) if diff == 0 else (np.nan, np.nan)
        return DeLongResult(float(aucs[0]), float(aucs[1]), diff, 0.0, z, p)
    se = float(np.sqrt(var))
    z = diff / se
    return DeLongResult(
        float(aucs[0]), float(aucs[1]), diff, se, z, float(2 * stats.norm.sf(abs(z)))
    )
