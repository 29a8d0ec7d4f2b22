"""Risk of progression of a resected primary GIST: NIH 2002, AFIP 2006, modified NIH 2008.

The three schemes tabulate tumour size, mitotic count and (AFIP, modified NIH) primary site;
the modified NIH scheme adds tumour rupture.

Boundaries
----------
The published tables are ambiguous at exactly 2, 5 and 10 cm and at exactly 5 mitoses. All
three schemes here use the convention of Joensuu (2008): sizes ``<= 2.0``, ``2.1-5.0``,
``5.1-10.0`` and ``> 10.0`` cm, mitoses ``<= 5``, ``6-10`` and ``> 10``. A size between
two printed bands (2.05 cm) belongs to the upper one: "2.1-5.0" is read as "> 2.0 and
<= 5.0", which is also how AFIP writes its bands ("> 2 <= 5"). A fractional count (5.5) is
read the same way: "6-10" means "> 5 and <= 10".

Mitotic count units
-------------------
The schemes were published for mitoses per 50 high-power fields. Current WHO (2019) and AJCC
practice counts per 5 mm² and applies the same thresholds (5 and 10) to that count, so a
count per 5 mm² is accepted and every assessment says so in its notes. On modern wide-field
microscopes 50 HPF is about 10-12 mm², so a count per 5 mm² is lower than the historical
count and the risk may be underestimated; ``RiskOptions(accept_per_5mm2_as_50hpf=False)``
refuses such counts instead.

Modified NIH, <= 2 cm non-gastric with 6-10 mitoses
---------------------------------------------------
Joensuu's table [3]_ as printed classifies this cell intermediate (the row "< 5.0 cm, 6-10
mitoses, any site"); the row "2.1-5.0 cm, > 5 mitoses, non-gastric: high" starts at 2.1 cm.
Some secondary reproductions (Kobe University, medicalalgorithms.com) give high. The default
follows the printed table; ``ModifiedNihReading.SECONDARY`` gives high, and the assessment of
such a tumour names both readings.

References
----------
.. [1] Fletcher CDM, Berman JJ, Corless C, et al. Diagnosis of gastrointestinal stromal
   tumors: a consensus approach. Hum Pathol 2002;33(5):459-465.
.. [2] Miettinen M, Lasota J. Gastrointestinal stromal tumors: pathology and prognosis at
   different sites. Semin Diagn Pathol 2006;23(2):70-83. Reproduced in NCCN, NCI PDQ
   (Tables 1-2) and Hindawi ISRN 2012 Table 2.
.. [3] Joensuu H. Risk stratification of patients diagnosed with gastrointestinal stromal
   tumor. Hum Pathol 2008;39(10):1411-1419, doi:10.1016/j.humpath.2008.06.025.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

from gistcad.analysis.afip import AFIP_TABLE, AfipColumn, AfipColumnLabelling, afip_cell
from gistcad.domain import MitosisUnit, RiskClass, RiskScheme, Site
from gistcad.errors import ValidationError

logger = logging.getLogger(__name__)


class ModifiedNihReading(StrEnum):
    """How to read the modified NIH cell "<= 2.0 cm, 6-10 mitoses, non-gastric".

    ``LITERAL`` (default): intermediate, the table of [3]_ as printed, read row by row.
    ``SECONDARY``: high, as the Kobe University and medicalalgorithms.com reproductions
    resolve it (the "< 5.0 cm, 6-10 mitoses, any site: intermediate" row then applies to
    gastric tumours only).
    """

    SECONDARY = "secondary"
    LITERAL = "literal"


_AFIP_GASTRIC_3B_CHOICES = (10.0, 12.0)


@dataclass(frozen=True)
class RiskOptions:
    """Choices the published tables leave open; every default is stated here.

    Attributes
    ----------
    afip_column_labelling
        Default ``MIETTINEN_LASOTA_2006`` (original column order); ``NCCN_PDQ`` swaps the
        duodenum and jejunum/ileum columns to match NCCN and the older PDQ.
    afip_gastric_3b_percent
        Risk of progressive disease of AFIP group 3b (gastric, > 10 cm, <= 5 mitoses):
        10.0 (default; NCCN and older PDQ) or 12.0 (NCI PDQ 2025).
    afip_uncovered_site_column
        AFIP column used for sites the table does not cover (colon, oesophagus, other).
        Default jejunum/ileum, the usual "non-gastric" convention. The column is looked up
        by its label under ``afip_column_labelling``.
    modified_nih_reading
        Default ``LITERAL`` (intermediate, the printed table) for "<= 2.0 cm, 6-10 mitoses,
        non-gastric"; ``SECONDARY`` gives high.
    accept_per_5mm2_as_50hpf
        Default True: a count per 5 mm² is classified with the same thresholds (WHO 2019),
        and every assessment notes it. False refuses such counts.
    """

    afip_column_labelling: AfipColumnLabelling = AfipColumnLabelling.MIETTINEN_LASOTA_2006
    afip_gastric_3b_percent: float = 10.0
    afip_uncovered_site_column: AfipColumn = AfipColumn.JEJUNUM_ILEUM
    modified_nih_reading: ModifiedNihReading = ModifiedNihReading.LITERAL
    accept_per_5mm2_as_50hpf: bool = True

    def __post_init__(self) -> None:
        if self.afip_gastric_3b_percent not in _AFIP_GASTRIC_3B_CHOICES:
            raise ValidationError(
                f"afip_gastric_3b_percent is {self.afip_gastric_3b_percent!r}; the published "
                "values are 10.0 (NCCN, older PDQ) and 12.0 (PDQ 2025): use one of them"
            )
        # Normalise once so that plain strings from a settings form are accepted.
        for name, enum in (
            ("afip_column_labelling", AfipColumnLabelling),
            ("afip_uncovered_site_column", AfipColumn),
            ("modified_nih_reading", ModifiedNihReading),
        ):
            object.__setattr__(self, name, enum(getattr(self, name)))


@dataclass(frozen=True)
class RiskAssessment:
    """One scheme's verdict on one tumour.

    Attributes
    ----------
    scheme
        The scheme that produced it.
    risk_class
        The category; AFIP may give ``NONE`` or ``INSUFFICIENT_DATA``.
    progression_risk_percent
        AFIP only: risk of progressive disease (metastasis or tumour-related death) in %,
        ``None`` for the other schemes and for AFIP cells with insufficient data.
    label
        Human-readable category, e.g. ``"Moderate (24 %)"``.
    notes
        Caveats that apply to this assessment (ignored rupture, table choices, units).
    """

    scheme: RiskScheme
    risk_class: RiskClass
    progression_risk_percent: float | None
    label: str
    notes: tuple[str, ...] = ()


def risk_label(risk_class: RiskClass, percent: float | None = None) -> str:
    """Display text of a category, with the AFIP percentage when there is one.

    >>> risk_label(RiskClass.MODERATE, 24.0)
    'Moderate (24 %)'
    """
    name = risk_class.label
    return name if percent is None else f"{name} ({percent:g} %)"


# --- bands (Joensuu 2008 convention, see module docstring) --------------------------------


def size_band(size_cm: float) -> int:
    """0: <= 2.0 cm, 1: 2.1-5.0 (> 2.0), 2: 5.1-10.0 (> 5.0), 3: > 10.0 cm."""
    if size_cm <= 2.0:
        return 0
    if size_cm <= 5.0:
        return 1
    return 2 if size_cm <= 10.0 else 3


def mitosis_band(mitoses: float) -> int:
    """0: <= 5, 1: 6-10 (> 5), 2: > 10 mitoses per 50 HPF."""
    if mitoses <= 5:
        return 0
    return 1 if mitoses <= 10 else 2


# --- NIH 2002 ------------------------------------------------------------------------------


def _nih_2002(size: int, mitoses: int) -> RiskClass:
    """Fletcher et al. 2002 [1]_, high rows first."""
    if size == 3 or mitoses == 2 or (size >= 2 and mitoses >= 1):
        return RiskClass.HIGH
    if mitoses == 1 or size == 2:  # <= 5 cm with 6-10 mitoses; 5.1-10 cm with <= 5
        return RiskClass.INTERMEDIATE
    return RiskClass.LOW if size == 1 else RiskClass.VERY_LOW


# --- modified NIH 2008 ---------------------------------------------------------------------


def _modified_nih(
    size: int, mitoses: int, *, gastric: bool, rupture: bool, reading: ModifiedNihReading
) -> RiskClass:
    """Joensuu 2008 [3]_: rupture, then high rows, intermediate rows, low, very low."""
    if rupture or size == 3 or mitoses == 2 or (size >= 2 and mitoses >= 1):
        return RiskClass.HIGH
    if not gastric and ((size == 1 and mitoses >= 1) or (size == 2 and mitoses == 0)):
        return RiskClass.HIGH
    if size == 0 and mitoses == 1 and not gastric and reading is ModifiedNihReading.SECONDARY:
        return RiskClass.HIGH
    if mitoses == 1 or (gastric and size == 2):  # < 5.0 cm 6-10 any; gastric rows
        return RiskClass.INTERMEDIATE
    return RiskClass.LOW if size == 1 else RiskClass.VERY_LOW


# --- AFIP 2006 -----------------------------------------------------------------------------

_AFIP_GROUPS = tuple(AFIP_TABLE)  # row order: size band, then > 5 mitoses

_SITE_COLUMNS: dict[Site, AfipColumn] = {
    Site.STOMACH: AfipColumn.GASTRIC,
    Site.JEJUNUM_ILEUM: AfipColumn.JEJUNUM_ILEUM,
    Site.DUODENUM: AfipColumn.DUODENUM,
    Site.RECTUM: AfipColumn.RECTUM,
}


def afip_group(size_cm: float, mitoses: float) -> str:
    """AFIP prognostic group ("1" ... "6b") of a size in cm and a count per 50 HPF."""
    return _AFIP_GROUPS[size_band(size_cm) + (4 if mitoses > 5 else 0)]


_Verdict = tuple[RiskClass, float | None, list[str]]


def _afip(
    site: Site, size_cm: float, mitoses: float, rupture: bool, options: RiskOptions
) -> _Verdict:
    """AFIP 2006 [2]_; rupture is not an input."""
    notes: list[str] = []
    column = _SITE_COLUMNS.get(site)
    if column is None:
        column = options.afip_uncovered_site_column
        notes.append(f"AFIP has no {site.value} column; the {column.value} column was applied")
    group = afip_group(size_cm, mitoses)
    risk_class, percent = afip_cell(group, column, options)
    if options.afip_column_labelling is AfipColumnLabelling.NCCN_PDQ:
        notes.append("AFIP columns labelled as in NCCN/PDQ (duodenum and jejunum/ileum swapped)")
    if group == "3b" and column is AfipColumn.GASTRIC:
        notes.append(f"gastric group 3b uses {percent:g} % (NCCN/older PDQ: 10 %, PDQ 2025: 12 %)")
    if rupture:
        notes.append("tumour rupture is not part of AFIP 2006; ignored here")
    if group == "4" and risk_class is not RiskClass.INSUFFICIENT_DATA:
        notes.append("AFIP group 4 rests on a small number of cases")
    return risk_class, percent, notes


def _nih_2002_verdict(
    site: Site, size_cm: float, mitoses: float, rupture: bool, options: RiskOptions
) -> _Verdict:
    notes = ["tumour rupture is not part of NIH 2002; ignored here"] if rupture else []
    return _nih_2002(size_band(size_cm), mitosis_band(mitoses)), None, notes


def _modified_nih_verdict(
    site: Site, size_cm: float, mitoses: float, rupture: bool, options: RiskOptions
) -> _Verdict:
    size, count, reading = size_band(size_cm), mitosis_band(mitoses), options.modified_nih_reading
    risk_class = _modified_nih(
        size, count, gastric=site.is_gastric, rupture=rupture, reading=reading
    )
    notes = []
    if not rupture and not site.is_gastric and (size, count) == (0, 1):
        notes.append(
            f"<= 2 cm non-gastric with 6-10 mitoses: {reading.value} reading; Joensuu 2008 "
            "as printed: intermediate (literal), some reproductions: high (secondary)"
        )
    return risk_class, None, notes


_SCHEMES = {
    RiskScheme.NIH_2002: _nih_2002_verdict,
    RiskScheme.AFIP_2006: _afip,
    RiskScheme.MODIFIED_NIH_2008: _modified_nih_verdict,
}


# --- public API ----------------------------------------------------------------------------


def _validated_inputs(
    site: Site | str, size_cm: float, mitoses: float, unit: MitosisUnit | str, options: RiskOptions
) -> tuple[Site, list[str]]:
    if isinstance(size_cm, bool) or not math.isfinite(size_cm) or size_cm <= 0:
        raise ValidationError(
            f"size_cm is {size_cm!r}; give the largest tumour dimension in cm as a finite "
            "number > 0"
        )
    if isinstance(mitoses, bool) or not math.isfinite(mitoses) or mitoses < 0:
        raise ValidationError(
            f"mitoses is {mitoses!r}; give the mitotic count as a finite number >= 0"
        )
    notes: list[str] = []
    if MitosisUnit(unit) is MitosisUnit.PER_5_MM2:
        if not options.accept_per_5mm2_as_50hpf:
            raise ValidationError(
                "mitoses were counted per 5 mm² and these options refuse such counts "
                "(accept_per_5mm2_as_50hpf=False); give the count per 50 HPF, or accept it: "
                "WHO 2019 applies the same thresholds per 5 mm²"
            )
        notes.append(
            "count per 5 mm²: same thresholds as per 50 HPF (WHO 2019); 50 HPF is about "
            "10-12 mm² on wide-field microscopes, so the risk may be underestimated"
        )
    return Site(site), notes


def classify(
    scheme: RiskScheme,
    *,
    site: Site,
    size_cm: float,
    mitoses: int | float,
    unit: MitosisUnit,
    rupture: bool = False,
    options: RiskOptions = RiskOptions(),
) -> RiskAssessment:
    """Risk category of a resected primary GIST under one scheme.

    Parameters
    ----------
    scheme
        NIH 2002 [1]_, AFIP 2006 [2]_ or modified NIH 2008 [3]_.
    site
        Primary site; NIH 2002 ignores it.
    size_cm
        Largest tumour dimension in cm, finite and > 0.
    mitoses
        Mitotic count, >= 0, in ``unit``.
    unit
        Per 50 HPF, or per 5 mm² (same thresholds, noted) unless the options refuse it.
    rupture
        Tumour rupture; only the modified NIH scheme uses it (then: high).
    options
        Table choices; see :class:`RiskOptions` for the defaults.

    Returns
    -------
    RiskAssessment

    Raises
    ------
    ValidationError
        On a non-positive or non-finite size, a negative count, or a count per 5 mm² the
        options refuse.
    """
    site, notes = _validated_inputs(site, size_cm, mitoses, unit, options)
    scheme = RiskScheme(scheme)
    risk_class, percent, scheme_notes = _SCHEMES[scheme](site, size_cm, mitoses, rupture, options)
    notes.extend(scheme_notes)
    logger.debug("%s: %s %.3g cm %.3g mitoses -> %s", scheme, site, size_cm, mitoses, risk_class)
    label = risk_label(risk_class, percent)
    return RiskAssessment(scheme, risk_class, percent, label, tuple(notes))


def classify_all(
    *,
    site: Site,
    size_cm: float,
    mitoses: int | float,
    unit: MitosisUnit,
    rupture: bool = False,
    options: RiskOptions = RiskOptions(),
) -> dict[RiskScheme, RiskAssessment]:
    """:func:`classify` under every :class:`~gistcad.domain.RiskScheme`, in enum order."""
    return {
        scheme: classify(
            scheme,
            site=site,
            size_cm=size_cm,
            mitoses=mitoses,
            unit=unit,
            rupture=rupture,
            options=options,
        )
        for scheme in RiskScheme
    }


_SITES = tuple(Site)
_SITE_CODES = {site.value: code for code, site in enumerate(_SITES)}
_SIZE_BANDS = np.vectorize(size_band, otypes=[np.int64])
_MITOSIS_BANDS = np.vectorize(mitosis_band, otypes=[np.int64])


def _validated_arrays(
    sites: ArrayLike, size_cm: ArrayLike, mitoses: ArrayLike, rupture: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Site codes (into ``Site`` order), sizes, counts and rupture flags, checked row by row."""
    site_values = np.asarray(sites, dtype=object)
    size, counts = np.asarray(size_cm, dtype=float), np.asarray(mitoses, dtype=float)
    ruptured = np.zeros(size.shape, bool) if rupture is None else np.asarray(rupture, bool)
    arrays = {"sites": site_values, "size_cm": size, "mitoses": counts, "rupture": ruptured}
    if len({a.shape for a in arrays.values()}) != 1 or size.ndim != 1:
        shapes = {name: a.shape for name, a in arrays.items()}
        raise ValidationError(f"give one value per tumour, in 1-d arrays of one length: {shapes}")
    codes = np.array([_SITE_CODES.get(str(s), -1) for s in site_values], dtype=np.int64)
    for name, values, valid, rule in (
        ("sites", site_values, codes >= 0, f"use one of {list(_SITE_CODES)}"),
        ("size_cm", size, np.isfinite(size) & (size > 0), "give the size in cm, finite and > 0"),
        ("mitoses", counts, np.isfinite(counts) & (counts >= 0), "give a finite count >= 0"),
    ):
        if not valid.all():
            i = int(np.flatnonzero(~valid)[0])
            raise ValidationError(f"{name}[{i}] is {values[i : i + 1].tolist()[0]!r}; {rule}")
    return codes, size, counts, ruptured


def classify_many(
    scheme: RiskScheme,
    sites: ArrayLike,
    size_cm: ArrayLike,
    mitoses: ArrayLike,
    rupture: ArrayLike | None = None,
    options: RiskOptions = RiskOptions(),
) -> tuple[np.ndarray, np.ndarray]:
    """Risk category of many tumours under one scheme: :func:`classify` over arrays.

    Parameters
    ----------
    scheme
        NIH 2002 [1]_, AFIP 2006 [2]_ or modified NIH 2008 [3]_.
    sites
        Primary sites (:class:`~gistcad.domain.Site` members or values), shape (n,).
    size_cm
        Largest tumour dimensions in cm, finite and > 0, shape (n,).
    mitoses
        Mitotic counts per 50 HPF, finite and >= 0, shape (n,).
    rupture
        Tumour rupture, shape (n,); ``None`` means no tumour ruptured.
    options
        Table choices; see :class:`RiskOptions` for the defaults.

    Returns
    -------
    risk_class : numpy.ndarray of RiskClass, shape (n,)
        The category of each tumour, as :func:`classify` gives it.
    percent : numpy.ndarray of float, shape (n,)
        AFIP % risk of progressive disease; NaN for the other schemes and for AFIP cells
        with insufficient data.

    Raises
    ------
    ValidationError
        If the arrays differ in shape, or a site, size or count is invalid (the first such
        row is named).

    Notes
    -----
    The schemes see size and mitoses only through :func:`size_band` and
    :func:`mitosis_band`, so each distinct (site, size band, mitosis band, rupture) is
    classified once, with the values of its first tumour.

    >>> classes, percent = classify_many(
    ...     RiskScheme.AFIP_2006, ["stomach", "rectum"], [3.0, 12.0], [2, 8]
    ... )
    >>> [str(c) for c in classes], percent.tolist()
    (['very_low', 'high'], [1.9, 71.0])
    """
    codes, size, counts, ruptured = _validated_arrays(sites, size_cm, mitoses, rupture)
    key = codes * 100 + _SIZE_BANDS(size) * 10 + _MITOSIS_BANDS(counts) * 2 + ruptured
    unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    classes = np.empty(len(unique), dtype=object)
    percents = np.full(len(unique), np.nan)
    for j, i in enumerate(first):
        verdict = classify(
            scheme,
            site=_SITES[codes[i]],
            size_cm=float(size[i]),
            mitoses=float(counts[i]),
            unit=MitosisUnit.PER_50_HPF,
            rupture=bool(ruptured[i]),
            options=options,
        )
        classes[j] = verdict.risk_class
        if verdict.progression_risk_percent is not None:
            percents[j] = verdict.progression_risk_percent
    return classes[inverse], percents[inverse]
