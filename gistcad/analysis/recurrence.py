"""AFIP-fitted recurrence estimate after resection of a primary GIST, without adjuvant therapy.

This is **not** the MSKCC nomogram (Gold et al. 2009 [3]_): its points are published only
as a figure. It is a mixture cure model fitted to the published AFIP table of Miettinen &
Lasota (2006 [1]_), so that it agrees with that table by construction, and it carries
:data:`RECURRENCE_LABEL` on every output.

Model
-----
Recurrence-free survival ``t`` years after surgery alone,

.. math:: S(t) = 1 - p \\, F(t),

where :math:`p` is the long-term probability of progression (metastasis or tumour-related
death; :math:`1 - p` is the cure fraction) and :math:`F` the share of eventual recurrences
that have happened by ``t``.

*Long-term progression*, per AFIP site column ``c`` and with :math:`x = \\log(s / 5\\,cm)`
for the largest diameter :math:`s`:

.. math:: p_{\\le 5}(s) = \\operatorname{expit}(a_c + b_c x), \\qquad
          p_{> 5}(s) = p_{\\le 5}(s) + (1 - p_{\\le 5}(s))\\,
                       \\operatorname{expit}(e_c + f_c x),

for at most and more than 5 mitoses per 50 HPF, with :math:`b_c, f_c \\ge 0`. The model
therefore rises with size, never falls when the mitotic count passes 5, and stays in (0, 1).

*Fit.* For each column, the four parameters minimise the squared differences, on the
arcsine-square-root scale (so that the small cells count as much as the large ones), between
the published cell values and the model averaged over each size band (<= 2, 2-5, 5-10 and
10-40 cm, weighting sizes by a log-normal with median 5 cm and sigma 0.7 on the log scale,
the project's size assumption). :func:`fit_afip_cells` does this; :data:`AFIP_FIT` holds its
rounded result. Columns and cells: the original labelling of [1]_ (jejunum/ileum 4.3/24/...,
duodenum 8.3/-/34/...), gastric group 3b at 10 %. Colon, oesophagus and other sites have no
AFIP column; the jejunum/ileum curve is used for them, as the AFIP scheme of this project
does by default.

*Time course.* :math:`F(t) = 1 - \\exp(-(t/\\lambda)^k)`, the uncured part of a Weibull cure
model fitted exactly to the recurrence-free survival of 83 / 75 / 63 % at 1 / 2 / 5 years
of the MSKCC series after surgery alone (DeMatteo et al. 2008 [2]_; :func:`fit_time_course`).
It gives a median time to recurrence of 1.9 years among those who recur, 76 % of all
recurrences within 5 years and 91 % within 10, in line with "few recurrences after the first
10 years" of the pooled population-based cohorts (Joensuu et al. 2012 [4]_).

Limits
------
* Cells the table marks "insufficient data" (duodenum and rectum, 5-10 cm; duodenum, <= 2 cm
  with more than 5 mitoses) are interpolated by the fitted curve, and the estimate says so.
* The fit is within :data:`CELL_TOLERANCE` (7 percentage points) of every published cell and
  below 2 % where the table says "none (0 %)"; inside a band it varies with size, so it is
  higher than the band's value near the band's upper edge and lower near its lower edge.
* Sizes above :data:`~gistcad.domain.MAX_TUMOUR_SIZE_CM` are refused, as the importer
  refuses them: such a number is almost always a size in millimetres.
* Mitoses enter only as at most / more than 5 per 50 HPF; a count per 5 mm² uses the same
  threshold (WHO 2019 applies the same cut-offs), with a note.
* Tumour rupture, genotype and sex are not in the model; rupture raises the risk a lot.

References
----------
.. [1] Miettinen M, Lasota J. Gastrointestinal stromal tumors: pathology and prognosis at
   different sites. Semin Diagn Pathol 2006;23(2):70-83.
.. [2] DeMatteo RP, Gold JS, Saran L, et al. Tumor mitotic rate, size, and location
   independently predict recurrence after resection of primary gastrointestinal stromal
   tumor (GIST). Cancer 2008;112(3):608-15.
.. [3] Gold JS, Gönen M, Gutiérrez A, et al. Development and validation of a prognostic
   nomogram for recurrence-free survival after complete surgical resection of localised
   primary gastrointestinal stromal tumour. Lancet Oncol 2009;10(11):1045-52.
.. [4] Joensuu H, Vehtari A, Riihimäki J, et al. Risk of recurrence of gastrointestinal
   stromal tumour after surgery: an analysis of pooled population-based cohorts. Lancet
   Oncol 2012;13(3):265-74, doi:10.1016/S1470-2045(11)70299-6.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gistcad.analysis.afip import AFIP_TABLE, AfipColumn
from gistcad.domain import MAX_TUMOUR_SIZE_CM, MitosisUnit, Site, plausible_mitoses
from gistcad.errors import ValidationError

RECURRENCE_LABEL = "AFIP-fitted recurrence estimate — not the MSKCC nomogram"

#: How far the fitted band averages may lie from a published cell, in probability.
CELL_TOLERANCE = 0.07

#: What every reader of an estimate should know, in one line each.
LIMITS: tuple[str, ...] = (
    "fitted to the AFIP table (Miettinen & Lasota 2006): long-term progression within 7 "
    "percentage points of every published cell, after surgery alone",
    "time course from the MSKCC series (DeMatteo 2008): median 1.9 years to recurrence, "
    "76 % of recurrences within 5 years",
    "mitoses only as at most / more than 5 per 50 HPF; rupture, genotype and sex not included",
    f"sizes up to {MAX_TUMOUR_SIZE_CM:g} cm",
)

SIZE_REFERENCE_CM = 5.0
#: Size bands of the AFIP table, in cm, and the size distribution the cells are averaged over.
BAND_EDGES_CM = (0.5, 2.0, 5.0, 10.0, MAX_TUMOUR_SIZE_CM)
BAND_SIZE_MEDIAN_CM = 5.0
BAND_SIZE_SIGMA_LOG = 0.7
_BAND_GROUPS = (("1", "4"), ("2", "5"), ("3a", "6a"), ("3b", "6b"))  # (<= 5, > 5) per band

_SITE_COLUMNS: Mapping[Site, AfipColumn] = {
    Site.STOMACH: AfipColumn.GASTRIC,
    Site.JEJUNUM_ILEUM: AfipColumn.JEJUNUM_ILEUM,
    Site.DUODENUM: AfipColumn.DUODENUM,
    Site.RECTUM: AfipColumn.RECTUM,
}
_UNCOVERED_SITE_COLUMN = AfipColumn.JEJUNUM_ILEUM
_GASTRIC_3B = 10.0


def expit(x: ArrayLike) -> NDArray[np.float64]:
    """The logistic function 1 / (1 + exp(-x)), without importing SciPy."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64))))


@dataclass(frozen=True)
class ColumnFit:
    """Parameters of one AFIP column: see the module docstring for the formula."""

    low_intercept: float
    low_slope: float
    high_intercept: float
    high_slope: float

    def progression(self, size_cm: ArrayLike, more_than_5: bool) -> NDArray[np.float64]:
        """Long-term probability of progression at each size (cm)."""
        x = np.log(np.asarray(size_cm, dtype=float) / SIZE_REFERENCE_CM)
        low = expit(self.low_intercept + self.low_slope * x)
        if not more_than_5:
            return np.asarray(low, dtype=float)
        return np.asarray(low + (1 - low) * expit(self.high_intercept + self.high_slope * x))


#: Result of :func:`fit_afip_cells`, rounded to 4 decimals.
AFIP_FIT: Mapping[AfipColumn, ColumnFit] = {
    AfipColumn.GASTRIC: ColumnFit(-4.0789, 1.7484, -0.9472, 3.0626),
    AfipColumn.JEJUNUM_ILEUM: ColumnFit(-2.2456, 2.3267, 1.0717, 0.7808),
    AfipColumn.DUODENUM: ColumnFit(-2.4772, 1.7554, 0.3079, 0.9984),
    AfipColumn.RECTUM: ColumnFit(-2.1274, 2.2167, -0.0162, 0.0),
}


@dataclass(frozen=True)
class TimeCourse:
    """Share of eventual recurrences that have happened by ``t`` years (Weibull)."""

    scale_years: float
    shape: float

    def share_by(self, years: ArrayLike) -> NDArray[np.float64]:
        t = np.asarray(years, dtype=float)
        return np.asarray(1.0 - np.exp(-((t / self.scale_years) ** self.shape)))

    @property
    def median_years(self) -> float:
        return float(self.scale_years * math.log(2.0) ** (1.0 / self.shape))


#: RFS after surgery alone at 1, 2 and 5 years in the MSKCC series [2]_.
DEMATTEO_RFS: Mapping[float, float] = {1.0: 0.83, 2.0: 0.75, 5.0: 0.63}

#: Result of :func:`fit_time_course`, rounded.
TIME_COURSE = TimeCourse(scale_years=3.0966, shape=0.7466)


def _band_grid(lower: float, upper: float, points: int = 48) -> tuple[NDArray, NDArray]:
    """Sizes and weights (summing to 1) of a band, log-normal weighted (midpoint rule)."""
    edges = np.linspace(math.log(lower), math.log(upper), points + 1)
    mids = (edges[1:] + edges[:-1]) / 2
    z = (mids - math.log(BAND_SIZE_MEDIAN_CM)) / BAND_SIZE_SIGMA_LOG
    weights = np.exp(-0.5 * z**2)
    return np.exp(mids), weights / weights.sum()


_BANDS = tuple(_band_grid(lo, hi) for lo, hi in itertools.pairwise(BAND_EDGES_CM))


def band_average(fit: ColumnFit, band: int, more_than_5: bool) -> float:
    """Model progression averaged over AFIP size band ``band`` (0: <= 2 cm ... 3: > 10 cm)."""
    sizes, weights = _BANDS[band]
    return float(np.sum(weights * fit.progression(sizes, more_than_5)))


def afip_cells(column: AfipColumn) -> list[tuple[int, bool, float]]:
    """Published cells of one column: (size band, more than 5 mitoses, progression 0-1).

    Cells with insufficient data are left out; gastric 3b is 10 % (NCCN, older PDQ).
    """
    index = tuple(AfipColumn).index(column)
    cells = []
    for band, groups in enumerate(_BAND_GROUPS):
        for more_than_5, group in zip((False, True), groups, strict=True):
            percent = AFIP_TABLE[group][index][1]
            if group == "3b" and column is AfipColumn.GASTRIC:
                percent = _GASTRIC_3B
            if percent is not None:
                cells.append((band, more_than_5, percent / 100))
    return cells


def fit_afip_cells() -> dict[AfipColumn, ColumnFit]:
    """Fit every column to its published cells; :data:`AFIP_FIT` is the rounded result."""
    from scipy.optimize import least_squares  # only when refitting: the command stays fast

    def scale(p: float) -> float:
        return math.asin(math.sqrt(min(max(p, 0.0), 1.0)))

    fits = {}
    for column in AfipColumn:
        cells = afip_cells(column)

        def residuals(theta: NDArray, cells: list[tuple[int, bool, float]] = cells) -> NDArray:
            fit = ColumnFit(*theta)
            return np.array([scale(band_average(fit, b, high)) - scale(p) for b, high, p in cells])

        result = least_squares(
            residuals, [-2.0, 1.5, 0.0, 0.5], bounds=([-15, 0, -15, 0], [15, 10, 15, 10])
        )
        fits[column] = ColumnFit(*(float(v) for v in result.x))
    return fits


def fit_time_course(targets: Mapping[float, float] = DEMATTEO_RFS) -> tuple[TimeCourse, float]:
    """Weibull cure model through (years, RFS) targets; returns the time course and the
    cohort's long-term recurrence (a nuisance parameter, not used elsewhere)."""
    from scipy.optimize import least_squares

    years = np.array(list(targets), dtype=float)
    rfs = np.array(list(targets.values()), dtype=float)

    def residuals(theta: NDArray) -> NDArray:
        share, scale_years, shape = theta
        return 1.0 - share * TimeCourse(scale_years, shape).share_by(years) - rfs

    result = least_squares(residuals, [0.4, 2.0, 1.0], bounds=([0, 0.01, 0.2], [1, 50, 5]))
    share, scale_years, shape = (float(v) for v in result.x)
    return TimeCourse(scale_years, shape), share


@dataclass(frozen=True)
class RecurrenceEstimate:
    """Predicted course of one resected tumour without adjuvant therapy.

    Attributes
    ----------
    site, size_cm, mitoses, unit
        The inputs.
    afip_column
        The AFIP site column whose curve was used.
    more_than_5_mitoses
        The only way the count enters: more than 5 (per 50 HPF or per 5 mm²).
    long_term_progression
        Probability of ever progressing (metastasis or tumour-related death), in (0, 1).
    rfs_2y, rfs_5y, rfs_10y
        Probability of being free of recurrence 2, 5 and 10 years after surgery.
    notes
        Caveats that apply to this tumour (interpolated cell, site, unit, rupture).
    label, limits
        Always :data:`RECURRENCE_LABEL` and :data:`LIMITS`.
    """

    site: Site
    size_cm: float
    mitoses: float
    unit: MitosisUnit
    afip_column: AfipColumn
    more_than_5_mitoses: bool
    long_term_progression: float
    rfs_2y: float
    rfs_5y: float
    rfs_10y: float
    notes: tuple[str, ...] = ()
    label: str = field(default=RECURRENCE_LABEL, init=False)
    limits: tuple[str, ...] = field(default=LIMITS, init=False)

    @property
    def summary(self) -> str:
        """One sentence for a case card."""
        return (
            f"Without adjuvant therapy: {self.rfs_5y:.0%} free of recurrence at 5 years "
            f"({self.rfs_2y:.0%} at 2, {self.rfs_10y:.0%} at 10); "
            f"{self.long_term_progression:.0%} expected to recur eventually"
        )


def check_size_cm(size_cm: float) -> float:
    """The largest diameter in cm, or :class:`ValidationError` with the rule it breaks."""
    if isinstance(size_cm, bool) or not math.isfinite(size_cm) or size_cm <= 0:
        raise ValidationError(
            f"size_cm is {size_cm!r}; give the largest tumour dimension in cm as a finite "
            "number > 0"
        )
    if size_cm > MAX_TUMOUR_SIZE_CM:
        raise ValidationError(
            f"size_cm is {size_cm:g}: a tumour beyond the largest reported "
            f"(~{MAX_TUMOUR_SIZE_CM:g} cm); this looks like millimetres; give the size in cm"
        )
    return float(size_cm)


def _inputs(
    site: Site | str, size_cm: float, mitoses: float, unit: MitosisUnit | str
) -> tuple[Site, float, float, MitosisUnit]:
    size = check_size_cm(size_cm)
    if isinstance(mitoses, bool) or not math.isfinite(mitoses) or mitoses < 0:
        raise ValidationError(
            f"mitoses is {mitoses!r}; give the mitotic count as a finite number >= 0"
        )
    return Site(site), size, plausible_mitoses(float(mitoses)), MitosisUnit(unit)


#: Long-term progression allowed in a "none (0 %)" cell.
ZERO_CELL_CEILING = 0.02


def size_band(size_cm: float) -> int:
    """AFIP size band of a size: 0 (<= 2 cm), 1 (<= 5), 2 (<= 10), 3 (> 10)."""
    return int(np.searchsorted(BAND_EDGES_CM[1:-1], size_cm, side="left"))


def cell_bounds(column: AfipColumn, band: int, more_than_5: bool) -> tuple[float, float] | None:
    """The long-term progression a tumour of a published AFIP cell may be given.

    Within :data:`CELL_TOLERANCE` of the cell, and low enough that 5-year RFS stays at least
    1 − the cell (progression × share recurred by 5 years <= cell); a "none (0 %)" cell allows
    up to :data:`ZERO_CELL_CEILING`. ``None`` for a cell AFIP has no figure for.
    """
    cell = next((p for b, m, p in afip_cells(column) if (b, m) == (band, more_than_5)), None)
    if cell is None:
        return None
    if cell == 0:
        return 0.0, ZERO_CELL_CEILING
    by_5_years = float(TIME_COURSE.share_by(5.0))
    return max(0.0, cell - CELL_TOLERANCE), min(cell + CELL_TOLERANCE, cell / by_5_years)


def long_term_progression(column: AfipColumn, size_cm: float, more_than_5: bool) -> float:
    """The fitted curve at ``size_cm``, held within the bounds of the tumour's own AFIP cell.

    The curve is fitted to the cells' band averages, so a tumour near a band's edge (or far
    beyond 10 cm, where the curve extrapolates) could otherwise get a figure far from its own
    cell. Clamping to each cell's bounds keeps the estimate monotone in size and mitoses,
    because the bounds rise with the cells.
    """
    fitted = float(AFIP_FIT[column].progression(size_cm, more_than_5))
    bounds = cell_bounds(column, size_band(size_cm), more_than_5)
    return fitted if bounds is None else min(max(fitted, bounds[0]), bounds[1])


def _notes(
    site: Site, column: AfipColumn, size_cm: float, more: bool, unit: MitosisUnit, rupture: bool
) -> tuple[str, ...]:
    notes = []
    if site not in _SITE_COLUMNS:
        notes.append(f"AFIP has no {site.value} column; the {column.value} curve was used")
    band = size_band(size_cm)
    published = {(b, high) for b, high, _ in afip_cells(column)}
    if (band, more) not in published:
        notes.append(
            "AFIP has insufficient data for this size and mitotic count at this site; "
            "the fitted curve interpolates between the site's published cells"
        )
    if unit is MitosisUnit.PER_5_MM2:
        notes.append("count per 5 mm²: the same > 5 threshold applied (WHO 2019)")
    if rupture:
        notes.append("tumour rupture is not in the AFIP table: this underestimates the risk")
    return tuple(notes)


def rfs_curve(
    years: ArrayLike,
    *,
    site: Site | str,
    size_cm: float,
    mitoses: float,
    unit: MitosisUnit | str = MitosisUnit.PER_50_HPF,
) -> NDArray[np.float64]:
    """Recurrence-free survival at each time in ``years`` (>= 0), same shape as ``years``."""
    site, size, count, _ = _inputs(site, size_cm, mitoses, unit)
    times = np.asarray(years, dtype=float)
    if np.any(times < 0) or not np.all(np.isfinite(times)):
        raise ValidationError("years must be finite and >= 0")
    column = _SITE_COLUMNS.get(site, _UNCOVERED_SITE_COLUMN)
    p = long_term_progression(column, size, count > 5)
    return np.asarray(1.0 - p * TIME_COURSE.share_by(times))


def recurrence_estimate(
    *,
    site: Site | str,
    size_cm: float,
    mitoses: float,
    unit: MitosisUnit | str = MitosisUnit.PER_50_HPF,
    rupture: bool = False,
) -> RecurrenceEstimate:
    """Long-term progression and 2-, 5- and 10-year RFS after surgery alone.

    Parameters
    ----------
    site
        Primary site; colon, oesophagus and other sites use the jejunum/ileum curve.
    size_cm
        Largest tumour dimension in cm, > 0 and at most
        :data:`~gistcad.domain.MAX_TUMOUR_SIZE_CM`.
    mitoses
        Mitotic count, >= 0; only "more than 5" matters.
    unit
        Per 50 HPF or per 5 mm² (same threshold, noted).
    rupture
        Not in the model; a ruptured tumour gets a note that the estimate is too low.

    Returns
    -------
    RecurrenceEstimate
        Always labelled :data:`RECURRENCE_LABEL`.

    Raises
    ------
    ValidationError
        On a size that is not positive, not finite or looks like millimetres, or a count
        that is negative or not finite.
    """
    site, size, count, unit = _inputs(site, size_cm, mitoses, unit)
    column = _SITE_COLUMNS.get(site, _UNCOVERED_SITE_COLUMN)
    more = count > 5
    rfs_2y, rfs_5y, rfs_10y = rfs_curve([2.0, 5.0, 10.0], site=site, size_cm=size, mitoses=count)
    return RecurrenceEstimate(
        site=site,
        size_cm=size,
        mitoses=count,
        unit=unit,
        afip_column=column,
        more_than_5_mitoses=more,
        long_term_progression=long_term_progression(column, size, more),
        rfs_2y=float(rfs_2y),
        rfs_5y=float(rfs_5y),
        rfs_10y=float(rfs_10y),
        notes=_notes(site, column, size, more, unit, rupture),
    )
