"""Parsers of single spreadsheet cells: text in, a typed value out, or :class:`CellError`.

Each parser takes the cell's text (already stripped, never empty) and the sheet's decimal
mark, and raises :class:`CellError` with a message a data manager can act on.
"""

from __future__ import annotations

import datetime as dt
import math
import re

from gistcad.domain import (
    MAX_TUMOUR_SIZE_CM,
    GenotypeDetail,
    MitosisUnit,
    Sex,
    Site,
    parse_site,
    plausible_mitoses,
)
from gistcad.errors import ValidationError
from gistcad.ingest.clinical_schema import (
    EARLIEST_DATE,
    MAX_DOSE_MG_PER_DAY,
    MAX_MONTHS,
    MAX_SUB_SITE_CHARS,
    parse_genotype,
)

MAX_SIZE_CM = MAX_TUMOUR_SIZE_CM  # one limit for the importer and the recurrence estimate
HISTOLOGIES = ("spindle", "epithelioid", "mixed")


class CellError(ValueError):
    """A cell that cannot be read; the message says what is expected."""


def number(text: str, decimal: str) -> float:
    cleaned = text.replace(" ", "")
    if decimal == ",":
        cleaned = cleaned.replace(".", "").replace(",", ".") if "," in cleaned else cleaned
    try:
        value = float(cleaned)
    except ValueError:
        raise CellError("not a number") from None
    if not math.isfinite(value):
        raise CellError("not a finite number")
    return value


def non_negative(text: str, decimal: str) -> float:
    value = number(text, decimal)
    if value < 0:
        raise CellError("must not be negative")
    return value


def positive(text: str, decimal: str) -> float:
    value = number(text, decimal)
    if value <= 0:
        raise CellError("must be greater than 0")
    return value


def months(text: str, decimal: str) -> float:
    value = non_negative(text, decimal)
    if value > MAX_MONTHS:
        raise CellError(
            f"{value:g} months is over {MAX_MONTHS:g} (50 years): give the time in months"
        )
    return value


def mitoses(text: str, decimal: str) -> float:
    try:
        return plausible_mitoses(non_negative(text, decimal))
    except ValidationError as exc:
        raise CellError(str(exc)) from None


def dose(text: str, decimal: str) -> float:
    value = positive(text, decimal)
    if value > MAX_DOSE_MG_PER_DAY:
        raise CellError(
            f"{value:g} mg/day is above the plausible range (imatinib: 100-800 mg/day; at most "
            f"{MAX_DOSE_MG_PER_DAY:g} accepted): give the daily dose in mg"
        )
    return value


def size_cm(text: str, decimal: str) -> float:
    value = positive(text, decimal)
    if value > MAX_SIZE_CM:
        raise CellError(
            f"a tumour of {value:g} cm is beyond the largest reported (~{MAX_SIZE_CM:g} cm): "
            "this looks like millimetres; give the size in cm"
        )
    return value


def age(text: str, decimal: str) -> float:
    value = non_negative(text, decimal)
    if value > 120:
        raise CellError("an age above 120 years: give the age at diagnosis in years")
    return value


_TRUE = {"1", "yes", "y", "true", "t", "ja", "oui", "si"}
_FALSE = {"0", "no", "n", "false", "f", "nein", "non"}


def flag(text: str, decimal: str) -> int:
    key = text.strip().lower()
    if decimal == "," and key in ("1,0", "0,0"):
        key = key[0]
    if key in ("1.0", "0.0"):
        key = key[0]
    if key in _TRUE:
        return 1
    if key in _FALSE:
        return 0
    raise CellError("expected 0/1 (or yes/no)")


# a time of day after an ISO date is accepted (spreadsheets export "2019-03-04 00:00:00")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_DOTTED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def date(text: str, _decimal: str) -> dt.date:
    for pattern, order in ((_ISO, (0, 1, 2)), (_DOTTED, (2, 1, 0))):
        match = pattern.match(text.strip())
        if match:
            parts = [int(g) for g in match.groups()]
            year, month, day = (parts[i] for i in order)
            try:
                value = dt.date(year, month, day)
            except ValueError:
                raise CellError("not a calendar date") from None
            return _plausible_date(value)
    raise CellError("expected a date as YYYY-MM-DD (or DD.MM.YYYY)")


def _plausible_date(value: dt.date) -> dt.date:
    today = dt.date.today()
    if value > today:
        raise CellError(f"a date in the future (today is {today.isoformat()}): check the year")
    if value < EARLIEST_DATE:
        raise CellError(f"a date before {EARLIEST_DATE.year}: check the year")
    return value


def sex(text: str, _decimal: str) -> Sex:
    key = text.strip().lower()
    mapped = {"m": Sex.MALE, "male": Sex.MALE, "f": Sex.FEMALE, "female": Sex.FEMALE}.get(key)
    if mapped is None:
        raise CellError("expected male/female (or M/F)")
    return mapped


def site(text: str, _decimal: str) -> Site:
    try:
        return parse_site(text)
    except ValidationError as exc:
        raise CellError(str(exc)) from None


def genotype(text: str, _decimal: str) -> GenotypeDetail:
    try:
        return parse_genotype(text)
    except ValidationError as exc:
        raise CellError(str(exc)) from None


_UNITS = {"50hpf": MitosisUnit.PER_50_HPF, "5mm2": MitosisUnit.PER_5_MM2}


def mitotic_unit(text: str, _decimal: str) -> MitosisUnit:
    """``per_50hpf``, ``/50 HPF``, ``50HPF``, ``per 5 mm²``, ``5mm2`` ... (case-insensitive)."""
    key = re.sub(r"[\s/_^]+", "", text.lower().replace("²", "2"))
    key = key.removeprefix("per")
    if key not in _UNITS:
        raise CellError("expected per_50hpf or per_5mm2 (the area the mitoses were counted in)")
    return _UNITS[key]


def histology(text: str, _decimal: str) -> str:
    key = text.strip().lower()
    if key not in HISTOLOGIES:
        raise CellError(f"expected one of {', '.join(HISTOLOGIES)}")
    return key


def sub_site(text: str, _decimal: str) -> str:
    value = text.strip()
    if len(value) > MAX_SUB_SITE_CHARS:
        raise CellError(
            f"{len(value)} characters; at most {MAX_SUB_SITE_CHARS} are stored: shorten it "
            "(e.g. 'antrum', 'proximal jejunum')"
        )
    return value
