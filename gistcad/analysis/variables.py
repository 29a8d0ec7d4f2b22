"""Clinical variables to group a cohort by, or to adjust a Cox model for, written as text.

``"sex"``, ``"risk"``, ``"adjuvant"``: categorical variables. ``"size:5,10"``: a numeric
variable cut at 5 and 10 (three groups: < 5, 5 to < 10, ≥ 10). ``"age:tertiles"``: cut at
its tertiles in the patients at hand. A numeric variable without cut points enters a Cox model
per unit; to group by it, cut points or quantiles are needed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gistcad.analysis.grouping import (
    COLUMNS,
    RISK_ORDER,
    Grouping,
    center_groups,
    clinical_groups,
    genotype_groups,
    is_unknown,
    risk_groups,
)
from gistcad.domain import RiskScheme
from gistcad.errors import ValidationError

ALIASES: dict[str, Grouping] = {
    "size_cm": Grouping.SIZE,
    "age_at_diagnosis": Grouping.AGE,
    "mitotic_count": Grouping.MITOSES,
    "adjuvant_imatinib": Grouping.ADJUVANT,
    "neoadjuvant_imatinib": Grouping.NEOADJUVANT,
    "centre": Grouping.CENTER,
}
QUANTILES: dict[str, int] = {
    "median": 2,
    "halves": 2,
    "tertiles": 3,
    "quartiles": 4,
    "quintiles": 5,
}
QUANTILE_NAMES = {2: "median", 3: "tertiles", 4: "quartiles", 5: "quintiles"}
UNITS: dict[Grouping, str] = {Grouping.AGE: " years", Grouping.SIZE: " cm", Grouping.MITOSES: ""}


def known_names() -> str:
    """The variable names, for messages."""
    return Grouping.names()


@dataclass(frozen=True)
class Variable:
    """A variable and, for a numeric one, how it is cut into groups.

    Attributes
    ----------
    grouping
        Which variable.
    cuts
        Cut points, increasing (numeric variables only).
    quantiles
        Cut at the k-quantiles of the patients at hand, k in 2..10 (numeric variables only).
    """

    grouping: Grouping
    cuts: tuple[float, ...] = ()
    quantiles: int | None = None

    def __post_init__(self) -> None:
        if (self.cuts or self.quantiles) and not self.grouping.is_numeric:
            raise ValidationError(
                f"{self.grouping.value!r} is categorical and takes no cut points or quantiles"
            )
        if self.cuts and list(self.cuts) != sorted(set(self.cuts)):
            raise ValidationError(
                f"cut points of {self.grouping.value} must increase; got {list(self.cuts)}"
            )
        if self.quantiles is not None and not 2 <= self.quantiles <= 10:
            raise ValidationError(f"quantiles must be 2 to 10 groups; got {self.quantiles}")

    @property
    def is_cut(self) -> bool:
        return bool(self.cuts) or self.quantiles is not None

    def __str__(self) -> str:
        if self.cuts:
            return f"{self.grouping.value}:{','.join(f'{c:g}' for c in self.cuts)}"
        if self.quantiles is not None:
            name = QUANTILE_NAMES.get(self.quantiles, f"q{self.quantiles}")
            return f"{self.grouping.value}:{name}"
        return self.grouping.value

    @classmethod
    def parse(cls, text: str) -> Variable:
        """``"sex"``, ``"size:5,10"``, ``"size_cm:5,10"``, ``"age:tertiles"``, ``"age:q4"``."""
        name, _, how = text.strip().partition(":")
        key = name.strip().lower()
        try:
            grouping = ALIASES.get(key) or Grouping(key)
        except ValueError:
            raise ValidationError(
                f"unknown variable {name.strip()!r}; use one of {known_names()}"
            ) from None
        how = how.strip().lower()
        if not how:
            return cls(grouping)
        if how in QUANTILES or (how.startswith("q") and how[1:].isdigit()):
            return cls(grouping, quantiles=QUANTILES.get(how) or int(how[1:]))
        try:
            cuts = tuple(float(c) for c in how.split(",") if c.strip())
        except ValueError:
            raise ValidationError(
                f"{text.strip()!r}: after ':' give cut points (size:5,10) or quantiles "
                f"({', '.join(QUANTILES)} or q<k>)"
            ) from None
        if not cuts or any(not math.isfinite(c) for c in cuts):
            raise ValidationError(f"{text.strip()!r}: give at least one finite cut point")
        return cls(grouping, cuts=cuts)


def parse_variables(text: str) -> tuple[Variable, ...]:
    """A comma-separated list of variables; numbers after a ``name:`` are its cut points.

    ``"age,size:5,10,sex"`` is age, size cut at 5 and 10, and sex.
    """
    specs: list[str] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        if specs and ":" in specs[-1] and _is_number(token):
            specs[-1] += f",{token}"
        else:
            specs.append(token)
    return tuple(Variable.parse(spec) for spec in specs)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Grouped:
    """The group of each patient under a variable.

    Attributes
    ----------
    labels
        One label per cohort row, aligned with its index.
    levels
        Every label in display order (ordered variables: lowest first).
    ordered
        Whether the levels are ordered (risk classes, intervals of a number).
    notes
        How the groups were formed (e.g. the quantile cut points).
    """

    labels: pd.Series
    levels: tuple[str, ...]
    ordered: bool
    notes: tuple[str, ...] = ()


def group_by(cohort: pd.DataFrame, variable: Variable, scheme: RiskScheme) -> Grouped:
    """Group the cohort's rows by ``variable`` (any but the predicted status)."""
    g = variable.grouping
    if g is Grouping.PREDICTED:
        raise ValidationError("grouping by predicted status needs a model's predictions")
    if g.is_numeric:
        if not variable.is_cut:
            raise ValidationError(
                f"{g.value} is a number: give cut points ({g.value}:5,10) or quantiles "
                f"({g.value}:tertiles) to group by it"
            )
        return cut_groups(cohort[COLUMNS[g]], variable)
    if g is Grouping.RISK:
        labels = risk_groups(cohort, scheme)
        present = set(labels)
        levels = [r for r in RISK_ORDER if r in present]
        return Grouped(labels, _with_rest(levels, labels), ordered=True)
    if g is Grouping.GENOTYPE:
        labels = genotype_groups(cohort)
    elif g is Grouping.CENTER:
        labels = center_groups(cohort)
    else:
        labels = clinical_groups(cohort, g)
    return Grouped(labels, _with_rest([], labels), ordered=False)


def _with_rest(levels: Sequence[str], labels: pd.Series) -> tuple[str, ...]:
    """``levels``, then the other labels sorted, groups without a value last."""
    rest = sorted({str(x) for x in labels.unique()} - set(levels), key=lambda x: (is_unknown(x), x))
    return (*levels, *rest)


def cut_groups(values: pd.Series, variable: Variable) -> Grouped:
    """Intervals of a number: ``< a``, ``a to < b``, ``≥ b`` (missing: "Unknown").

    Quantile cut points are those of the known values (``numpy.quantile``, linear); tied
    quantiles merge groups, and the notes say where the cuts fell.
    """
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    known = numbers.dropna().to_numpy()
    unit = UNITS.get(variable.grouping, "")
    notes: list[str] = []
    if variable.quantiles is not None:
        if known.size == 0:
            raise ValidationError(f"no patient has a value of {variable.grouping.value}")
        probs = np.arange(1, variable.quantiles) / variable.quantiles
        cuts = tuple(float(c) for c in np.unique(np.quantile(known, probs)))
        name = QUANTILE_NAMES.get(variable.quantiles, "quantiles")
        notes.append(
            f"{variable.grouping.value} cut at its {name} "
            f"in these patients: {', '.join(f'{c:.3g}' for c in cuts)}{unit}."
        )
    else:
        cuts = variable.cuts
    levels = _interval_labels(cuts, unit)
    index = np.searchsorted(np.asarray(cuts), numbers.to_numpy(), side="right")
    labels = pd.Series(
        [
            "Unknown" if math.isnan(v) else levels[i]
            for v, i in zip(numbers.to_numpy(), index, strict=True)
        ],
        index=values.index,
        dtype=object,
    )
    return Grouped(labels, (*levels, "Unknown"), ordered=True, notes=tuple(notes))


def _interval_labels(cuts: Sequence[float], unit: str) -> list[str]:
    text = [f"{c:.3g}" for c in cuts]
    labels = [f"< {text[0]}{unit}"]
    labels += [f"{a} to < {b}{unit}" for a, b in itertools.pairwise(text)]
    labels.append(f"≥ {text[-1]}{unit}")
    return labels


def covariate(cohort: pd.DataFrame, variable: Variable, scheme: RiskScheme) -> pd.Series:
    """A Cox covariate: a number per unit, or categories (ordered ones lowest first, the
    reference; others against the most frequent level).

    Missing values and groups without a value ("Unknown", "Not classifiable …") are NaN, so
    that the patients are left out, and said to be.
    """
    g = variable.grouping
    if g.is_numeric and not variable.is_cut:
        return pd.to_numeric(cohort[COLUMNS[g]], errors="coerce").astype(float)
    grouped = group_by(cohort, variable, scheme)
    levels = [level for level in grouped.levels if not is_unknown(level)]
    values = grouped.labels.where(~grouped.labels.map(is_unknown).astype(bool))
    if not grouped.ordered:  # the Cox model's reference: the most frequent level
        return values.astype(object)
    return pd.Series(
        pd.Categorical(values, categories=levels, ordered=grouped.ordered), index=cohort.index
    )
