"""Parsers of single spreadsheet cells: text in, a typed value out, or :class:`CellError`.

Each parser takes the cell's text (already stripped, never empty) and the sheet's decimal
mark, and raises :class:`CellError` with a message a data manager can act on.

:class:`RowIdentity` looks for a row's own patient (name, birth date, hospital id) in the
cells an importer keeps: a name typed into a free-text cell must not reach the store.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

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


# --- the patient's identity in a cell that is kept ---------------------------------------

#: name parts shorter than this are not searched for (initials, "Li", "Bo")
MIN_NAME_LETTERS = 3
#: a hospital id that is a number of fewer digits is not searched for: in clinical text it
#: is as likely a codon or exon number ("del 557-558") as the id
MIN_NUMERIC_ID_DIGITS = 5
#: words of a name column that are not searched for: particles and titles, and the words of
#: genotype reports (a patient called Del Rio must not refuse every "KIT exon 11 del 557-558")
_NOT_NAMES = frozenset(
    {
        "van", "von", "der", "den", "del", "della", "dei", "des", "dos", "das", "ter", "ten",
        "het", "zum", "zur", "bin", "ibn", "ben", "abu", "les", "los", "las", "herr", "frau",
        "mrs", "miss", "prof", "kit", "exon", "wild", "type",
    }
)  # fmt: skip
_LETTERS = re.compile(r"[^\W\d_]+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_BIRTH_FORMS = (  # (pattern, order of year, month, day in its groups)
    (re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$"), (0, 1, 2)),
    (re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$"), (2, 1, 0)),
    (re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$"), (2, 0, 1)),  # US month first
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (0, 1, 2)),
)


def fold(text: str) -> str:
    """Lower case without accents, as names are compared.

    >>> fold("Müller-Lüdenscheidt"), fold("STRAẞE")
    ('muller-ludenscheidt', 'strasse')
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _spellings(text: str) -> set[str]:
    """``text`` folded, and folded with German umlauts written out (ü as ue)."""
    return {fold(text), fold(text.casefold().translate(_UMLAUTS))}


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class RowIdentity:
    """Who one row is about, as patterns to find in the row's other cells.

    Attributes
    ----------
    name
        Each part of the name of :data:`MIN_NAME_LETTERS` letters or more, as a whole word,
        compared without regard to case or accents (and with ü also written ue).
        ``None`` when the file names no one.
    birth_date
        The birth date as it is commonly written: 12.03.1961, 12.3.1961, 12/03/1961,
        03/12/1961, 12-03-1961, 1961-03-12, 19610312, 12.03.61.
    patient_id
        The hospital id as a whole token (any case).
    """

    name: re.Pattern[str] | None = None
    birth_date: re.Pattern[str] | None = None
    patient_id: re.Pattern[str] | None = None

    @classmethod
    def of(
        cls, *, names: Iterable[str] = (), birth_dates: Iterable[str] = (), patient_id: str = ""
    ) -> RowIdentity:
        """The identity of a row from its name cells, birth-date cells and patient id."""
        parts = {
            spelling
            for name in names
            for part in _LETTERS.findall(name)
            if len(part) >= MIN_NAME_LETTERS and fold(part) not in _NOT_NAMES
            for spelling in _spellings(part)
        }
        name = None
        if parts:
            words = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
            name = re.compile(rf"(?<![^\W\d_])(?:{words})(?![^\W\d_])")
        births = [p for p in (_birth_pattern(text) for text in birth_dates) if p]
        birth = re.compile("|".join(births)) if births else None
        return cls(name, birth, _id_pattern(patient_id))

    def problem_in(self, text: str) -> str | None:
        """What to tell the user when ``text`` holds any of this identity, else ``None``.

        The message names what was found, never the value.
        """
        found = []
        if self.name is not None and any(self.name.search(s) for s in _spellings(text)):
            found.append("name")
        if self.birth_date is not None and self.birth_date.search(text):
            found.append("birth date")
        if self.patient_id is not None and self.patient_id.search(text):
            found.append("hospital id")
        if not found:
            return None
        them = "it" if len(found) == 1 else "them"
        return (
            f"contains the patient's {_listed(found)}: remove {them} from the cell and import again"
        )


def _birth_pattern(text: str) -> str | None:
    """A regular expression for the date in ``text`` in its written forms, or for ``text``
    itself as a token when it is not a date that can be read."""
    value = text.strip()
    if not value:
        return None
    for pattern, order in _BIRTH_FORMS:
        match = pattern.match(value)
        if match is None:
            continue
        parts = [int(g) for g in match.groups()]
        try:
            return _date_pattern(dt.date(*(parts[i] for i in order)))
        except ValueError:
            continue
    return rf"(?<!\w){re.escape(value)}(?!\w)" if len(value) >= 6 else None


def _date_pattern(value: dt.date) -> str:
    year, month, day = value.year, value.month, value.day
    d = f"0?{day}" if day < 10 else str(day)
    m = f"0?{month}" if month < 10 else str(month)
    sep = r"\s*[./-]\s*"
    short = f"{year % 100:02d}"
    forms = (
        f"{d}{sep}{m}{sep}{year}",
        f"{m}{sep}{d}{sep}{year}",
        f"{year}{sep}{m}{sep}{d}",
        f"{year}{month:02d}{day:02d}",
        f"{day:02d}{month:02d}{year}",
        f"{d}[./]{m}[./]{short}",
        f"{m}[./]{d}[./]{short}",
    )
    return rf"(?<!\d)(?:{'|'.join(forms)})(?!\d)"


def _id_pattern(patient_id: str) -> re.Pattern[str] | None:
    value = patient_id.strip()
    if len(value) < 3 or (value.isdigit() and len(value) < MIN_NUMERIC_ID_DIGITS):
        return None
    return re.compile(rf"(?<![^\W_]){re.escape(value)}(?![^\W_])", re.IGNORECASE)
