"""Groupings of a cohort for survival comparisons: genotype, predicted status, risk, center, and
every other categorical clinical variable (sex, site, histology, rupture, adjuvant and
neoadjuvant imatinib); numeric ones (age, size, mitoses) are cut in
:mod:`~gistcad.analysis.variables`.

Each function takes the cohort table (:data:`gistcad.store.queries.COHORT_COLUMNS`; only the
columns it names are read) and returns one label per row, as a ``pandas.Series`` aligned with
the cohort's index. Labels are the words a clinical paper would print ("KIT exon 11",
"Not KIT exon 11", "High"), so that tables and figure legends need no translation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gistcad.analysis.prediction_source import probability_column
from gistcad.analysis.risk import RiskOptions, classify
from gistcad.domain import (
    GenotypeClass,
    GenotypeDetail,
    GenotypeGroup,
    Grouping,
    MitosisUnit,
    RiskClass,
    RiskScheme,
    Sex,
    Site,
    StatusSplit,
)
from gistcad.errors import ValidationError

SPLIT_LABELS: dict[StatusSplit, tuple[str, str]] = {
    StatusSplit.KIT11: ("KIT exon 11", "Not KIT exon 11"),
    StatusSplit.KIT_MUTANT: ("KIT-mutant", "Not KIT-mutant"),
}
UNKNOWN = "Unknown"
NO_PREDICTION = "No prediction"
NOT_CLASSIFIABLE = "Not classifiable (count per 5 mm²)"
INSUFFICIENT_DATA = RiskClass.INSUFFICIENT_DATA.label  # AFIP's cells without published figures
#: the risk classes in increasing order, as labelled (see :data:`~gistcad.domain.RISK_CLASS_LABELS`)
RISK_ORDER = tuple(c.label for c in RiskClass if c is not RiskClass.INSUFFICIENT_DATA)


def is_unknown(label: str) -> bool:
    """Groups without a value to compare ("Unknown", "No prediction", "Not classifiable …",
    AFIP's "Insufficient data"): shown, but left out of the tests by default."""
    return label in (UNKNOWN, NO_PREDICTION, INSUFFICIENT_DATA) or label.startswith(
        "Not classifiable"
    )


def map_distinct(values: pd.Series, label: Callable[[Any], str]) -> pd.Series:
    """``values.map(label)``, calling ``label`` once per distinct value (missing ones
    included), so that 100,000 patients cost as much as their few distinct values.

    >>> map_distinct(pd.Series(["a", None, "a"]), lambda v: "?" if v is None else v.upper())
    0    A
    1    ?
    2    A
    dtype: object
    """
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    mapped = np.empty(len(distinct), dtype=object)
    mapped[:] = [label(None if _missing(v) else v) for v in distinct]
    return pd.Series(mapped[codes], index=values.index, dtype=object)


def genotype_groups(cohort: pd.DataFrame) -> pd.Series:
    """True genotype group of each patient ("Unknown" when not tested)."""

    def label(detail: Any) -> str:
        if not isinstance(detail, str):
            return UNKNOWN
        return GenotypeDetail(detail).group.label  # a value no GenotypeDetail has is refused

    return map_distinct(cohort["genotype_detail"], label)


def true_status_groups(cohort: pd.DataFrame, split: StatusSplit) -> pd.Series:
    """The true genotype split the same way as :func:`predicted_groups` splits predictions.

    KIT-mutant here means any KIT mutation (exons 9, 11, 13, 17); the four classes put KIT
    exon 13/17 under "Wild-type / other", as the genotype models do.
    """

    def label(detail: Any) -> str:
        if not isinstance(detail, str) or detail == GenotypeDetail.UNKNOWN:
            return UNKNOWN
        d = GenotypeDetail(detail)
        if split is StatusSplit.FOUR_CLASS:
            cls = d.group
            mapped = {
                GenotypeGroup.KIT11: GenotypeClass.KIT11,
                GenotypeGroup.KIT9: GenotypeClass.KIT9,
                GenotypeGroup.PDGFRA: GenotypeClass.PDGFRA,
            }.get(cls, GenotypeClass.WT_OTHER)
            return mapped.label
        yes, no = SPLIT_LABELS[split]
        positive = d.is_kit_exon11 if split is StatusSplit.KIT11 else d.is_kit
        return yes if positive else no

    return map_distinct(cohort["genotype_detail"], label)


def predicted_groups(
    cohort: pd.DataFrame,
    predictions: pd.DataFrame,
    split: StatusSplit,
    *,
    threshold: float = 0.5,
) -> pd.Series:
    """Predicted status of each patient from a model's class probabilities.

    Parameters
    ----------
    cohort
        Needs ``patient_id``.
    predictions
        One model version's predictions: ``patient_id`` and either ``probabilities`` (a
        mapping from :class:`~gistcad.domain.GenotypeClass` value to probability; a row
        whose mapping is None has no prediction) or one float column per class the split
        reads (:func:`~gistcad.analysis.prediction_source.probability_column`, e.g.
        ``p_kit11``; every row is a prediction, NaN where it has no such class), as
        :func:`~gistcad.analysis.prediction_source.choose_predictions` gives them. A patient
        with several predictions (several series) gets the newest (last row).
    split
        ``KIT11``: P(KIT exon 11) ≥ threshold. ``KIT_MUTANT``: P(KIT exon 11) + P(KIT
        exon 9) ≥ threshold (KIT exon 13/17 sit in the model's "wild-type / other" class).
        ``FOUR_CLASS``: the most probable class; the threshold is not used.
    threshold
        In (0, 1).

    Returns
    -------
    pandas.Series
        Labels; "No prediction" for patients the model has not seen.
    """
    if not 0.0 < threshold < 1.0 or math.isnan(threshold):
        raise ValidationError(f"threshold must lie between 0 and 1 (exclusive); got {threshold}")
    latest = predictions.drop_duplicates("patient_id", keep="last")
    labels: list[str] | np.ndarray
    if "probabilities" in latest:
        latest = latest[latest["probabilities"].notna()]
        labels = _split_all(latest["probabilities"].tolist(), split, threshold)
    else:
        labels = _split_matrix(_probability_matrix(latest, split), split, threshold)
    by_patient = pd.Series(labels, index=latest["patient_id"].to_numpy(), dtype=object)
    found = by_patient.reindex(cohort["patient_id"].to_numpy())
    return pd.Series(
        found.where(found.notna(), NO_PREDICTION).to_numpy(), index=cohort.index, dtype=object
    )


def _split_all(rows: list[Mapping[str, float]], split: StatusSplit, threshold: float) -> list[str]:
    """:func:`_split_probabilities` of every row, as array arithmetic."""
    needed = _NEEDED[split]
    if not rows:
        return []
    keys = [c.value for c in needed]
    table = pd.DataFrame.from_records(rows, columns=keys)  # absent keys: NaN
    matrix = table.to_numpy(dtype=float)
    for i in np.flatnonzero(np.isnan(matrix).any(axis=1)).tolist():
        if any(key not in rows[i] for key in keys):
            _split_probabilities(rows[i], split, threshold)  # raises, naming what is missing
    return list(_split_matrix(matrix, split, threshold))


def _probability_matrix(rows: pd.DataFrame, split: StatusSplit) -> np.ndarray:
    """The probabilities the split reads from their float columns, shape (rows, classes)
    in the order of :data:`_NEEDED`; refused, naming the class, where a row has none."""
    keys = [c.value for c in _NEEDED[split]]
    present = [k for k in keys if probability_column(k) in rows]
    matrix = np.full((len(rows), len(keys)), np.nan)
    for j, key in enumerate(keys):
        if key in present:
            matrix[:, j] = rows[probability_column(key)].to_numpy(dtype=float)
    incomplete = np.flatnonzero(np.isnan(matrix).any(axis=1))
    if incomplete.size:  # the first such row, as the per-row check names it
        row = matrix[incomplete[0]]
        _split_probabilities(
            {k: float(v) for k, v in zip(keys, row, strict=True) if not np.isnan(v)},
            split,
            threshold=0.5,
        )
    return matrix


def _split_matrix(matrix: np.ndarray, split: StatusSplit, threshold: float) -> np.ndarray:
    """The label of each row of probabilities (columns in the order of :data:`_NEEDED`)."""
    if split is StatusSplit.FOUR_CLASS:
        names = np.array([c.label for c in _NEEDED[split]], dtype=object)
        return names[np.argmax(matrix, axis=1)] if len(matrix) else names[:0]
    yes, no = SPLIT_LABELS[split]
    return np.where(matrix.sum(axis=1) >= threshold, yes, no).astype(object)


_NEEDED: dict[StatusSplit, list[GenotypeClass]] = {
    StatusSplit.KIT11: [GenotypeClass.KIT11],
    StatusSplit.KIT_MUTANT: [GenotypeClass.KIT11, GenotypeClass.KIT9],
    StatusSplit.FOUR_CLASS: list(GenotypeClass),
}


def needed_classes(split: StatusSplit) -> list[str]:
    """The class names whose probabilities :func:`predicted_groups` reads for ``split``."""
    return [c.value for c in _NEEDED[split]]


def _split_probabilities(probs: Mapping[str, float], split: StatusSplit, threshold: float) -> str:
    needed = _NEEDED[split]
    missing = [c.value for c in needed if c.value not in probs]
    if missing:
        raise ValidationError(
            f"the model's predictions have no probability for {', '.join(missing)} "
            f"(they have {', '.join(sorted(probs))}); choose a model trained for "
            f"'{split.value}' or another split"
        )
    if split is StatusSplit.FOUR_CLASS:
        best = max(needed, key=lambda c: probs[c.value])
        return best.label
    yes, no = SPLIT_LABELS[split]
    return yes if sum(probs[c.value] for c in needed) >= threshold else no


def _risk_class(row: Any, scheme: RiskScheme, options: RiskOptions) -> RiskClass | str:
    """The class of one cohort row, or the label saying why there is none."""
    if any(_missing(row[c]) for c in ("site", "size_cm", "mitotic_count", "mitotic_unit")):
        return UNKNOWN
    if row["mitotic_unit"] == MitosisUnit.PER_5_MM2 and not options.accept_per_5mm2_as_50hpf:
        return NOT_CLASSIFIABLE
    return classify(
        scheme,
        site=row["site"],
        size_cm=float(row["size_cm"]),
        mitoses=float(row["mitotic_count"]),
        unit=MitosisUnit(row["mitotic_unit"]),
        rupture=bool(row["rupture"]) if not _missing(row["rupture"]) else False,
        options=options,
    ).risk_class


def risk_groups(
    cohort: pd.DataFrame, scheme: RiskScheme, options: RiskOptions | None = None
) -> pd.Series:
    """Clinical risk class of each patient's primary tumour under ``scheme``, as labelled.

    Patients without site, size or mitotic count are "Unknown" (a missing rupture flag counts
    as no rupture); a count per 5 mm² that the
    options do not allow is "Not classifiable (count per 5 mm²)", never guessed.
    """
    opts = options or RiskOptions()
    codes, found = _risk_per_row(cohort, scheme, opts)
    labels = np.empty(len(found), dtype=object)
    labels[:] = [f.label if isinstance(f, RiskClass) else f for f in found]
    return pd.Series(labels[codes], index=cohort.index, dtype=object)


RISK_INPUTS = ("site", "size_cm", "mitotic_count", "mitotic_unit", "rupture")

#: upper edges of the size bands (<= 2, <= 5, <= 10 cm) and a value beyond the last
_SIZE_EDGES = (2.0, 5.0, 10.0, 20.0)
#: upper edges of the count bands (<= 5, <= 10) and a value beyond the last
_COUNT_EDGES = (5.0, 10.0, 20.0)


def _band_edge(values: pd.Series, edges: tuple[float, ...], *, positive: bool) -> pd.Series:
    """Each valid value replaced by the upper edge of its band (``edges[:-1]`` are the
    inclusive upper bounds, ``edges[-1]`` stands for everything above); missing, infinite
    or out-of-range values (which :func:`~gistcad.analysis.risk.classify` refuses) kept."""
    _, valid, edged = _bands(values, edges, positive=positive)
    kept = values.astype(object).to_numpy()
    return pd.Series(np.where(valid, edged, kept), index=values.index, dtype=object)


def _bands(
    values: pd.Series, edges: tuple[float, ...], *, positive: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values as numbers (NaN where not a number), whether each is valid, and the upper
    edge of each one's band (see :func:`_band_edge`)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    valid = np.isfinite(numbers) & ((numbers > 0) if positive else (numbers >= 0))
    band = np.searchsorted(np.asarray(edges[:-1]), numbers, side="left")
    edged = np.asarray(edges)[np.minimum(band, len(edges) - 1)]
    return numbers, valid, edged


def _band_codes(values: pd.Series, edges: tuple[float, ...], *, positive: bool) -> np.ndarray:
    """Integer codes of :func:`_band_edge`'s values (missing ones share one code), from the
    numbers when the column is numeric (no object per row)."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        numbers, valid, edged = _bands(values, edges, positive=positive)
        return pd.factorize(np.where(valid, edged, numbers))[0]
    return pd.factorize(_band_edge(values, edges, positive=positive))[0]


def _input_key(cohort: pd.DataFrame) -> np.ndarray:
    """One integer per row, equal for rows whose risk inputs are equal once sizes and counts
    are reduced to their bands (missing values, None or NaN, equal to each other)."""
    columns = [
        pd.factorize(cohort["site"])[0],
        _band_codes(cohort["size_cm"], _SIZE_EDGES, positive=True),
        _band_codes(cohort["mitotic_count"], _COUNT_EDGES, positive=False),
        pd.factorize(cohort["mitotic_unit"])[0],
        pd.factorize(cohort["rupture"])[0],
    ]
    key = np.zeros(len(cohort), dtype=np.int64)
    for codes in columns:  # missing: code -1, shifted to 0; the key re-coded after each column
        key = pd.factorize(key * (int(codes.max()) + 2) + (codes + 1))[0].astype(np.int64)
    return key


def _risk_per_row(
    cohort: pd.DataFrame, scheme: RiskScheme, options: RiskOptions
) -> tuple[np.ndarray, list[RiskClass | str]]:
    """:func:`_risk_class` of every row, computed once per distinct combination of inputs.

    A large cohort repeats the same site, size, count, unit and rupture many times; the
    classification of each distinct combination is looked up, not recomputed per patient.
    Every scheme reads size and count by their bands only (:func:`~gistcad.analysis.risk
    .size_band`, :func:`~gistcad.analysis.risk.mitosis_band`), so a valid size or count is
    first replaced by the upper edge of its band: 100,000 tumours have a few hundred
    distinct combinations, not tens of thousands. The combinations are found from integer
    codes of each input, not from the rows' values.

    Returns
    -------
    codes : ndarray of int, shape (n,)
        The combination of each row.
    classes : list
        The class (or the label saying why there is none) of each combination.
    """
    if cohort.empty:
        return np.zeros(0, dtype=np.int64), []
    _, first, codes = np.unique(_input_key(cohort), return_index=True, return_inverse=True)
    inputs = cohort.iloc[first][list(RISK_INPUTS)].astype(object)
    inputs["size_cm"] = _band_edge(inputs["size_cm"], _SIZE_EDGES, positive=True)
    inputs["mitotic_count"] = _band_edge(inputs["mitotic_count"], _COUNT_EDGES, positive=False)
    inputs = inputs.where(inputs.notna(), None)
    classes = [_risk_class(row, scheme, options) for row in inputs.to_dict("records")]
    return codes.reshape(-1), classes


def risk_classes(
    cohort: pd.DataFrame, scheme: RiskScheme, options: RiskOptions | None = None
) -> pd.Series:
    """Like :func:`risk_groups`, as :class:`~gistcad.domain.RiskClass` members; ``None``
    where the tumour cannot be classified (missing data, or a count per 5 mm²)."""
    opts = options or RiskOptions()
    if cohort.empty:
        return pd.Series([], index=cohort.index, dtype=object)
    codes, found = _risk_per_row(cohort, scheme, opts)
    classes = np.empty(len(found), dtype=object)
    classes[:] = [f if isinstance(f, RiskClass) else None for f in found]
    return pd.Series(classes[codes], index=cohort.index, dtype=object)


def center_groups(cohort: pd.DataFrame) -> pd.Series:
    """The center of each patient."""
    return cohort["center"].astype(object)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


FLAG_LABELS: dict[Grouping, tuple[str, str]] = {
    Grouping.RUPTURE: ("Rupture", "No rupture"),
    Grouping.ADJUVANT: ("Adjuvant imatinib", "No adjuvant imatinib"),
    Grouping.NEOADJUVANT: ("Neoadjuvant imatinib", "No neoadjuvant imatinib"),
}
COLUMNS: dict[Grouping, str] = {
    Grouping.SEX: "sex",
    Grouping.SITE: "site",
    Grouping.HISTOLOGY: "histology",
    Grouping.RUPTURE: "rupture",
    Grouping.ADJUVANT: "adjuvant_imatinib",
    Grouping.NEOADJUVANT: "neoadjuvant_imatinib",
    Grouping.AGE: "age_at_diagnosis",
    Grouping.SIZE: "size_cm",
    Grouping.MITOSES: "mitotic_count",
}


def clinical_groups(cohort: pd.DataFrame, variable: Grouping) -> pd.Series:
    """Sex, site, histology, rupture, adjuvant or neoadjuvant imatinib of each patient.

    Coded values become their labels ("Jejunum/ileum", "Female"); yes/no flags the named state
    ("Adjuvant imatinib", "No adjuvant imatinib"); a missing value is "Unknown".
    """
    if variable not in COLUMNS or variable.is_numeric:
        raise ValidationError(f"{variable.value!r} is not a categorical clinical variable")
    flags = FLAG_LABELS.get(variable)

    def label(value: Any) -> str:
        if _missing(value) or (isinstance(value, str) and not value.strip()):
            return UNKNOWN
        if flags is not None:
            return flags[0] if bool(value) else flags[1]
        if variable is Grouping.SITE:
            return Site(value).label
        if variable is Grouping.SEX:
            return Sex(value).label
        return str(value)

    return map_distinct(cohort[COLUMNS[variable]], label)
