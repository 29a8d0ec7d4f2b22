"""Which candidate features carry prognosis beyond the clinical factors, with the FDR controlled.

Pure statistics over a feature table and the patients' survival (the capability that reads the
store and extracts the features is :mod:`gistcad.biomarkers`). Per feature:

- an adjusted Cox model (:func:`~gistcad.analysis.cox_screen.cox_screen`), the feature
  winsorised at its 1st and 99th percentiles (:attr:`DiscoverySettings.winsorise`) and
  standardised to SD 1, so the hazard ratio is per standard deviation, with its Wald CI and p;
- the Benjamini–Hochberg q-value over all features (:func:`~gistcad.analysis.multiple_testing
  .bh_qvalues`); a feature is *discovered* when q < FDR;
- its bootstrap selection frequency: the share of B resamples of the patients (with
  replacement) in which it is discovered (Sauerbrei & Schumacher, Stat Med 1992;11:2093);
- the same model in every center on its own (for a forest plot);
- the R² of the feature on log size, flagged at ≥ :data:`SIZE_R2_THRESHOLD` (the feature is
  then nearly a function of size, which the risk schemes already use);
- leave-one-center-out replication: discovery on the other centers, confirmation on the one
  left out (see :func:`discover` for the rule that calls a finding confirmed).

Harmonisation across centers is a function handed in (:data:`Harmoniser`), fitted only on the
rows it is told to fit on, and never given the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from gistcad.analysis.cox_screen import ScreenResult, cox_screen, r_squared_on
from gistcad.analysis.multiple_testing import bh_qvalues
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]
BoolArray = NDArray[np.bool_]

#: (features (n, m), centers (n,), rows to fit on (n,)) → every row harmonised (n, m)
Harmoniser = Callable[[FloatArray, ObjectArray, BoolArray], FloatArray]

#: a feature whose R² on log size reaches this is flagged as nearly a function of size
SIZE_R2_THRESHOLD = 0.8
#: the share of each tail pulled in to its percentile before a feature is standardised
WINSORISE = 0.01
#: a feature missing in more than this share of patients is left out (others: median imputed)
MAX_MISSING_SHARE = 0.2
#: columns that hold outcomes: never candidate features
OUTCOME_COLUMNS = frozenset(
    {
        "rfs_months",
        "rfs_event",
        "os_months",
        "os_event",
        "choi_pr_fu1",
        "progression_6m",
        "last_follow_up",
    }
)

TABLE_COLUMNS = [
    "feature",
    "hr",
    "ci_lower",
    "ci_upper",
    "p",
    "q",
    "discovered",
    "selection_frequency",
    "size_r2",
    "size_flag",
    "splits_discovered",
    "splits_replicated",
    "confirmed_hr",
    "confirmed_p",
    "confirmed",
]
CENTER_COLUMNS = ["feature", "center", "n", "events", "hr", "ci_lower", "ci_upper", "p"]
CONFIRMATION_COLUMNS = [
    "held_out",
    "feature",
    "discovery_hr",
    "discovery_q",
    "n",
    "events",
    "hr",
    "ci_lower",
    "ci_upper",
    "p",
    "replicated",
]


@dataclass(frozen=True)
class DiscoverySettings:
    """How discovery is run.

    Attributes
    ----------
    fdr : float
        The false discovery rate: a feature is discovered when its BH q-value is below it.
    bootstrap : int
        Resamples for the selection frequency (0: none).
    seed : int
        Seed of the resampling.
    confirm_alpha : float
        Level of the pooled held-out test that confirms a finding.
    size_r2_threshold : float
    winsorise : float
        The share of patients in each tail whose value is pulled in to the tail's percentile
        before standardising (0.01: the 1st and 99th percentiles, fitted without the
        outcome on the patients the features are analysed on; 0: none). Radiomics features
        are often heavy-tailed (the variance of a tumour with calcification reaches 100 times
        the median), and one extreme value decides a Wald test on a raw feature: on 600
        generated patients the solid part's HU variance (skewness 22) reached z = 5.3 from a
        few tumours, z = 1.7 winsorised, while the features of the planted trait kept theirs.
    """

    fdr: float = 0.1
    bootstrap: int = 200
    seed: int = 0
    confirm_alpha: float = 0.05
    size_r2_threshold: float = SIZE_R2_THRESHOLD
    winsorise: float = WINSORISE

    def __post_init__(self) -> None:
        if not 0 < self.fdr < 1:
            raise ValidationError(f"the FDR must lie between 0 and 1; got {self.fdr}")
        if not 0 <= self.bootstrap <= 10_000:
            raise ValidationError(f"bootstrap resamples must be 0 to 10000; got {self.bootstrap}")
        if not 0 < self.confirm_alpha < 1:
            raise ValidationError(f"confirm_alpha must lie in (0, 1); got {self.confirm_alpha}")
        if not 0 <= self.winsorise < 0.25:
            raise ValidationError(
                f"the winsorised share of each tail must be 0 to 0.25 (e.g. 0.01); got "
                f"{self.winsorise}"
            )


@dataclass(frozen=True, eq=False)
class Discovery:
    """The result of :func:`discover`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per feature, by q then p (:data:`TABLE_COLUMNS`): ``hr`` per SD with its
        CI and ``p`` in all patients, ``q`` (BH), ``discovered`` (q < FDR),
        ``selection_frequency`` (share of bootstrap resamples in which q < FDR; NaN without
        bootstrap), ``size_r2`` and ``size_flag``, ``splits_discovered`` and
        ``splits_replicated`` (leave-one-center-out), the pooled held-out ``confirmed_hr``
        and ``confirmed_p``, and ``confirmed``.
    per_center : pandas.DataFrame
        One row per feature and center (:data:`CENTER_COLUMNS`).
    confirmation : pandas.DataFrame
        One row per held-out center and feature discovered on the other centers
        (:data:`CONFIRMATION_COLUMNS`).
    analysed : pandas.DataFrame
        The features as analysed (harmonised, imputed, winsorised, SD 1), one row per
        patient.
    durations, events : ndarray, shape (n,)
    n, n_events : int
    settings : DiscoverySettings
    notes : tuple of str
    """

    table: pd.DataFrame
    per_center: pd.DataFrame
    confirmation: pd.DataFrame
    analysed: pd.DataFrame
    durations: FloatArray
    events: FloatArray
    n: int
    n_events: int
    settings: DiscoverySettings
    notes: tuple[str, ...] = field(default=())

    @property
    def discovered(self) -> list[str]:
        """The features with q < FDR, by q."""
        return [str(f) for f in self.table.loc[self.table["discovered"], "feature"]]


def check_no_outcome(features: pd.DataFrame) -> None:
    """Refuse a feature table that holds an outcome column.

    Raises
    ------
    ValidationError
        Naming the outcome columns found.
    """
    found = sorted(OUTCOME_COLUMNS & {str(c) for c in features.columns})
    if found:
        raise ValidationError(
            f"outcome column(s) {found} are among the candidate features: an outcome can "
            "never be a feature; remove them from the feature table"
        )


def clean_features(features: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Candidate features ready to test, and notes on what was dropped.

    A column missing in more than :data:`MAX_MISSING_SHARE` of the patients, or constant, is
    dropped; other missing values take the column's median (no outcome is read).
    """
    numeric = features.apply(pd.to_numeric, errors="coerce").astype(float)
    numeric = numeric.replace([np.inf, -np.inf], np.nan)
    notes = []
    sparse = numeric.columns[numeric.isna().mean() > MAX_MISSING_SHARE]
    if len(sparse):
        notes.append(
            f"{len(sparse)} feature(s) missing in more than {MAX_MISSING_SHARE:.0%} of the "
            "patients were left out"
        )
    kept = numeric.drop(columns=sparse)
    kept = kept.fillna(kept.median())
    constant = kept.columns[kept.std(ddof=0).fillna(0) <= 1e-12 * (kept.abs().max() + 1)]
    if len(constant):
        notes.append(f"{len(constant)} constant feature(s) were left out")
    return kept.drop(columns=constant), notes


def independent_covariates(covariates: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The adjustment without the columns that the earlier ones (and a constant) already
    determine, and the names of those left out.

    A Cox model has no intercept (the baseline hazard takes it), so a constant column, or a
    set of indicators that sums to one with another column (every non-gastric tumour a KIT
    exon 11 or PDGFRA one, say), leaves the model's information singular and its estimates
    undefined. Columns are kept in order while each adds a dimension (numerical rank of the
    centred columns, relative tolerance 1e-8).
    """
    values = covariates.to_numpy(dtype=float)
    centred = values - values.mean(axis=0) if len(values) else values
    kept: list[int] = []
    for j in range(values.shape[1]):
        trial = centred[:, [*kept, j]]
        scale = np.linalg.norm(trial, axis=0)
        if scale[-1] <= 1e-12 * (np.abs(values[:, j]).max() + 1.0):
            continue  # constant
        singular = np.linalg.svd(trial / np.where(scale > 0, scale, 1.0), compute_uv=False)
        if singular[-1] > 1e-8 * singular[0]:
            kept.append(j)
    dropped = [str(c) for i, c in enumerate(covariates.columns) if i not in kept]
    return covariates.iloc[:, kept], dropped


def _standardise(x: FloatArray, rows: BoolArray, winsorise: float = 0.0) -> FloatArray:
    """Winsorised at the ``winsorise`` and 1 − ``winsorise`` quantiles of ``rows``, then
    centred and scaled by the mean and SD of ``rows`` (constant columns: scale 1)."""
    if winsorise > 0:
        low, high = np.quantile(x[rows], [winsorise, 1.0 - winsorise], axis=0)
        x = np.clip(x, low, high)
    mean = x[rows].mean(axis=0)
    sd = x[rows].std(axis=0, ddof=1)
    return (x - mean) / np.where(sd > 0, sd, 1.0)


def _screen(
    x: FloatArray, times: FloatArray, events: FloatArray, covariates: FloatArray, rows: BoolArray
) -> ScreenResult:
    return cox_screen(x[rows], times[rows], events[rows], covariates[rows])


def _selection_frequency(
    x: FloatArray,
    times: FloatArray,
    events: FloatArray,
    covariates: FloatArray,
    settings: DiscoverySettings,
) -> FloatArray:
    """Share of bootstrap resamples in which each feature has q < FDR."""
    if settings.bootstrap == 0:
        return np.full(x.shape[1], np.nan)
    rng = np.random.default_rng(settings.seed)
    n = x.shape[0]
    hits = np.zeros(x.shape[1])
    used = 0
    for _ in range(settings.bootstrap):
        rows = rng.integers(0, n, n)
        if not events[rows].any():
            continue
        screen = cox_screen(x[rows], times[rows], events[rows], covariates[rows])
        hits += np.nan_to_num(bh_qvalues(screen.p), nan=1.0) < settings.fdr
        used += 1
    return hits / max(used, 1)


def _per_center(
    names: Sequence[str],
    x: FloatArray,
    times: FloatArray,
    events: FloatArray,
    covariates: FloatArray,
    centers: ObjectArray,
) -> pd.DataFrame:
    frames = []
    for center in sorted(set(centers.tolist())):
        rows = centers == center
        if events[rows].sum() < 2:
            continue
        screen = _screen(x, times, events, covariates, rows)
        frames.append(
            pd.DataFrame(
                {
                    "feature": list(names),
                    "center": center,
                    "n": int(rows.sum()),
                    "events": int(events[rows].sum()),
                    "hr": screen.hr,
                    "ci_lower": screen.ci_lower,
                    "ci_upper": screen.ci_upper,
                    "p": screen.p,
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=CENTER_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CENTER_COLUMNS]


def _confirmation(
    names: Sequence[str],
    raw: FloatArray,
    times: FloatArray,
    events: FloatArray,
    covariates: FloatArray,
    centers: ObjectArray,
    harmoniser: Harmoniser | None,
    settings: DiscoverySettings,
) -> pd.DataFrame:
    """Discovery without each center in turn, confirmation in it."""
    frames = []
    for center in sorted(set(centers.tolist())):
        held = centers == center
        train = ~held
        if not events[train].any() or not events[held].any():
            continue
        x = raw if harmoniser is None else harmoniser(raw, centers, train)
        x = _standardise(x, train, settings.winsorise)
        found = _screen(x, times, events, covariates, train)
        q = bh_qvalues(found.p)
        picked = np.flatnonzero(np.nan_to_num(q, nan=1.0) < settings.fdr)
        if picked.size == 0:
            continue
        check = _screen(x[:, picked], times, events, covariates, held)
        frames.append(
            pd.DataFrame(
                {
                    "held_out": center,
                    "feature": [names[int(j)] for j in picked],
                    "discovery_hr": found.hr[picked],
                    "discovery_q": q[picked],
                    "n": int(held.sum()),
                    "events": int(events[held].sum()),
                    "hr": check.hr,
                    "ci_lower": check.ci_lower,
                    "ci_upper": check.ci_upper,
                    "p": check.p,
                    "replicated": (np.sign(check.coef) == np.sign(found.coef[picked]))
                    & (check.p < settings.confirm_alpha),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=CONFIRMATION_COLUMNS)
    return pd.concat(frames, ignore_index=True)[CONFIRMATION_COLUMNS]


def pooled_confirmation(confirmation: pd.DataFrame, alpha: float) -> pd.DataFrame:
    r"""Per feature, the held-out estimates pooled over the splits that discovered it.

    Each held-out center's log HR :math:`b_c` (standard error :math:`s_c`, from
    ``ci_upper``) is weighted by :math:`w_c = 1/s_c^2` (fixed-effect inverse-variance
    pooling; the held-out centers are disjoint, so the estimates are independent):
    :math:`\bar b = \sum w_c b_c / \sum w_c`, :math:`SE = (\sum w_c)^{-1/2}`, Wald p. A
    feature is **confirmed** when every split that discovered it agrees on the direction,
    the pooled held-out estimate has that direction, and its p is below ``alpha``.

    Returns
    -------
    pandas.DataFrame
        Indexed by feature: ``splits_discovered``, ``splits_replicated``, ``confirmed_hr``,
        ``confirmed_p``, ``confirmed``.
    """
    columns = ["splits_discovered", "splits_replicated", "confirmed_hr", "confirmed_p", "confirmed"]
    if confirmation.empty:
        return pd.DataFrame(columns=columns)
    z = stats.norm.ppf(0.975)
    b = np.log(confirmation["hr"].to_numpy(dtype=float))
    se = (np.log(confirmation["ci_upper"].to_numpy(dtype=float)) - b) / z
    valid = np.isfinite(b) & np.isfinite(se) & (se > 0)
    w = np.where(valid, 1.0 / np.where(valid, se, 1.0) ** 2, 0.0)
    work = pd.DataFrame(
        {
            "feature": confirmation["feature"].to_numpy(),
            "wb": w * np.where(valid, b, 0.0),
            "w": w,
            "sign": np.sign(np.log(confirmation["discovery_hr"].to_numpy(dtype=float))),
            "replicated": confirmation["replicated"].astype(bool).to_numpy(),
        }
    )
    grouped = work.groupby("feature", sort=False)
    total_w = grouped["w"].sum()
    pooled = grouped["wb"].sum() / total_w.where(total_w > 0)
    pooled_se = 1.0 / np.sqrt(total_w.where(total_w > 0))
    p = pd.Series(2.0 * stats.norm.sf(np.abs(pooled / pooled_se)), index=pooled.index)
    agree = grouped["sign"].agg(lambda s: s.nunique() == 1)
    direction = grouped["sign"].first()
    out = pd.DataFrame(
        {
            "splits_discovered": grouped.size(),
            "splits_replicated": grouped["replicated"].sum(),
            "confirmed_hr": np.exp(pooled),
            "confirmed_p": p,
        }
    )
    out["confirmed"] = agree & (np.sign(pooled) == direction) & (p < alpha)
    return out[columns]


def _counts(values: pd.Series) -> NDArray[np.int64]:
    """Counts with a missing value (a feature never discovered in a split) read as 0."""
    return np.nan_to_num(values.to_numpy(dtype=float), nan=0.0).astype(np.int64)


def discover(
    features: pd.DataFrame,
    durations: FloatArray,
    events: FloatArray,
    covariates: pd.DataFrame,
    centers: ObjectArray,
    log_size: FloatArray,
    settings: DiscoverySettings,
    *,
    harmoniser: Harmoniser | None = None,
) -> Discovery:
    """Screen every candidate feature for prognosis beyond ``covariates``, FDR controlled.

    Parameters
    ----------
    features : pandas.DataFrame, shape (n, m)
        Candidate features (no outcome column: refused), missing values allowed (see
        :func:`clean_features`).
    durations, events : ndarray, shape (n,)
        Survival time (months) and event flag.
    covariates : pandas.DataFrame, shape (n, k)
        The numeric adjustment (indicators for categories), complete.
    centers : ndarray, shape (n,)
        Each patient's center: the batches of harmonisation, the forest plot's rows and the
        leave-one-center-out splits.
    log_size : ndarray, shape (n,)
        Natural log of the tumour size (cm), for the collinearity flag.
    settings : DiscoverySettings
    harmoniser : Harmoniser, optional
        Harmonisation across centers, fitted on the rows it is given (all patients for the
        pooled analysis, the training centers in each leave-one-center-out split).

    Returns
    -------
    Discovery

    Notes
    -----
    **Confirmed** (the replication rule): for each center c, the features are screened on
    the other centers (harmonised, winsorised and standardised on them only); those with q < FDR are
    tested in c with the same adjusted model. A feature is confirmed when every split that
    discovered it agrees on the direction and the fixed-effect pooled held-out estimate
    (:func:`pooled_confirmation`) has that direction with p < ``confirm_alpha``. With one
    center there is nothing to confirm on and no finding is confirmed.
    """
    check_no_outcome(features)
    cleaned, notes = clean_features(features)
    if cleaned.shape[1] == 0:
        raise ValidationError("no candidate feature is left to test (all missing or constant)")
    times = np.asarray(durations, dtype=float)
    flags = np.asarray(events, dtype=float)
    independent, redundant = independent_covariates(covariates)
    if redundant:
        notes.append(
            f"adjustment column(s) {', '.join(redundant)} left out: the other adjustment "
            "columns already determine them in these patients"
        )
    c = independent.to_numpy(dtype=float)
    centers = np.asarray(centers, dtype=object).astype(str).astype(object)
    names = [str(n) for n in cleaned.columns]
    raw = cleaned.to_numpy(dtype=float)
    everyone = np.ones(times.size, dtype=bool)
    x = raw if harmoniser is None else harmoniser(raw, centers, everyone)
    x = _standardise(x, everyone, settings.winsorise)
    screen = cox_screen(x, times, flags, c)
    q = bh_qvalues(screen.p)
    r2 = r_squared_on(x, np.asarray(log_size, dtype=float))
    frequency = _selection_frequency(x, times, flags, c, settings)
    confirmation = _confirmation(names, raw, times, flags, c, centers, harmoniser, settings)
    pooled = pooled_confirmation(confirmation, settings.confirm_alpha).reindex(names)
    if len(set(centers.tolist())) < 2:
        notes.append("one center only: no finding can be confirmed on a held-out center")
    unfitted = int((~screen.converged).sum())
    if unfitted:
        notes.append(f"{unfitted} feature(s) separate the events: no finite hazard ratio")
    table = pd.DataFrame(
        {
            "feature": names,
            "hr": screen.hr,
            "ci_lower": screen.ci_lower,
            "ci_upper": screen.ci_upper,
            "p": screen.p,
            "q": q,
            "discovered": np.nan_to_num(q, nan=1.0) < settings.fdr,
            "selection_frequency": frequency,
            "size_r2": r2,
            "size_flag": r2 >= settings.size_r2_threshold,
            "splits_discovered": _counts(pooled["splits_discovered"]),
            "splits_replicated": _counts(pooled["splits_replicated"]),
            "confirmed_hr": pooled["confirmed_hr"].to_numpy(dtype=float),
            "confirmed_p": pooled["confirmed_p"].to_numpy(dtype=float),
            "confirmed": pooled["confirmed"].to_numpy(dtype=object) == True,  # noqa: E712
        }
    )
    table = table.sort_values(["q", "p"], kind="stable", na_position="last")
    return Discovery(
        table=table.reset_index(drop=True)[TABLE_COLUMNS],
        per_center=_per_center(names, x, times, flags, c, centers),
        confirmation=confirmation,
        analysed=pd.DataFrame(x, columns=names, index=features.index),
        durations=times,
        events=flags,
        n=int(times.size),
        n_events=int(flags.sum()),
        settings=settings,
        notes=tuple(notes),
    )
