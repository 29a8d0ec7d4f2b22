"""The clinical spreadsheet schema: canonical columns, units, allowed values and aliases.

One row per patient. Column names are matched case-insensitively after trimming, with spaces
and hyphens read as underscores; each canonical column also answers to the aliases listed
here (the names centers commonly use). Genotypes are read from the spellings of molecular
pathology reports through :func:`parse_genotype`.

The README's section *Clinical spreadsheets* is generated from :data:`CLINICAL_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from gistcad.domain import MAX_MITOSES, GenotypeDetail
from gistcad.errors import ValidationError

#: 50 years: longer follow-up or treatment than this is a typing error (days, or a date)
MAX_MONTHS = 600.0
#: imatinib is given at 100-800 mg/day; more than this is a typing error (e.g. mg per course)
MAX_DOSE_MG_PER_DAY = 1000.0
#: the earliest date a GIST record can carry (the disease was named in 1983)
EARLIEST_DATE = dt.date(1950, 1, 1)
#: what the store holds for free text (``tumours.sub_site`` is VARCHAR(80))
MAX_SUB_SITE_CHARS = 80
_DATES = f"a date from {EARLIEST_DATE.year} to today"
_MONTHS = f"0-{MAX_MONTHS:g}"


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column of the clinical table.

    Attributes
    ----------
    name
        Canonical name.
    unit
        Unit or format of the values ("cm", "months", "YYYY-MM-DD", "0/1" ...).
    allowed
        What may appear, in words.
    required
        Whether every row must have a value.
    aliases
        Other names accepted for the column.
    """

    name: str
    unit: str
    allowed: str
    required: bool
    aliases: tuple[str, ...]


CLINICAL_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "patient_id",
        "-",
        "the center's patient id (pseudonymised at import)",
        True,
        ("mrn", "hospital_id", "patientid", "patient_number", "pat_id"),
    ),
    ColumnSpec("sex", "-", "male/female (also M/F)", False, ("gender",)),
    ColumnSpec("age_at_diagnosis", "years", "0-120", False, ("age", "age_years")),
    ColumnSpec(
        "site",
        "-",
        "stomach, duodenum, jejunum/ileum, colon, rectum, oesophagus, other",
        True,
        ("primary_site", "location", "tumour_site", "tumor_site"),
    ),
    ColumnSpec(
        "sub_site",
        "-",
        f"free text up to {MAX_SUB_SITE_CHARS} characters, e.g. antrum, jejunum, mesentery",
        False,
        ("location_detail", "subsite"),
    ),
    ColumnSpec(
        "size_cm",
        "cm",
        "largest diameter, > 0 (a value in mm is refused)",
        False,
        ("tumour_size_cm", "tumor_size_cm", "size", "diameter_cm"),
    ),
    ColumnSpec(
        "mitotic_count",
        "count",
        f"0-{MAX_MITOSES:g}",
        False,
        ("mitoses", "mitotic_index", "mitosis"),
    ),
    ColumnSpec(
        "mitotic_unit",
        "-",
        "per_50hpf or per_5mm2 (required with a count)",
        False,
        ("mitosis_unit", "mitoses_unit", "mitotic_area"),
    ),
    ColumnSpec(
        "rupture",
        "0/1",
        "0/1, yes/no, true/false",
        False,
        ("tumour_rupture", "tumor_rupture", "ruptured"),
    ),
    ColumnSpec("histology", "-", "spindle, epithelioid, mixed", False, ("cell_type",)),
    ColumnSpec(
        "genotype",
        "-",
        "a mutation as reported, e.g. 'KIT exon 11 del 557-558'",
        False,
        ("mutation", "mutational_status", "genotype_detail", "molecular"),
    ),
    ColumnSpec("surgery_date", "YYYY-MM-DD", _DATES, False, ("date_of_surgery", "op_date")),
    ColumnSpec("neoadjuvant_imatinib", "0/1", "0/1, yes/no", False, ("neoadjuvant_tki",)),
    ColumnSpec("adjuvant_imatinib", "0/1", "0/1, yes/no", False, ("adjuvant_tki", "adjuvant")),
    ColumnSpec(
        "imatinib_dose_mg_per_day",
        "mg/day",
        f"> 0, at most {MAX_DOSE_MG_PER_DAY:g}",
        False,
        ("tki_dose_mg", "dose_mg"),
    ),
    ColumnSpec("imatinib_duration_months", "months", _MONTHS, False, ("tki_months",)),
    ColumnSpec(
        "rfs_months",
        "months",
        _MONTHS,
        False,
        ("recurrence_free_months", "rfs_time", "time_to_recurrence_months"),
    ),
    ColumnSpec(
        "rfs_event", "0/1", "1 = recurrence, 0 = censored", False, ("recurrence", "rfs_status")
    ),
    ColumnSpec("os_months", "months", _MONTHS, False, ("overall_survival_months", "os_time")),
    ColumnSpec("os_event", "0/1", "1 = died, 0 = censored", False, ("death", "os_status")),
    ColumnSpec(
        "last_follow_up",
        "YYYY-MM-DD",
        _DATES + ", not before surgery",
        False,
        ("last_contact", "last_fu"),
    ),
)

#: Columns that hold the patient's name (or a part of it), as :func:`normalise_column` reads them.
NAME_COLUMNS: frozenset[str] = frozenset(
    {
        "patient_name",
        "name",
        "first_name",
        "given_name",
        "last_name",
        "family_name",
        "surname",
        "birth_name",
    }
)
#: Columns that hold the patient's birth date.
BIRTH_DATE_COLUMNS: frozenset[str] = frozenset({"date_of_birth", "birth_date", "dob"})
#: Columns that identify a person; the importer drops them (and says so), never stores them.
#: The values of the name and birth-date columns, and the patient id, are also looked for in
#: every cell that is kept (:class:`gistcad.ingest.cells.RowIdentity`).
IDENTIFYING_COLUMNS: frozenset[str] = NAME_COLUMNS | BIRTH_DATE_COLUMNS | {"address", "phone"}

COLUMN_ALIASES: dict[str, str] = {
    alias: spec.name for spec in CLINICAL_COLUMNS for alias in (spec.name, *spec.aliases)
}


def normalise_column(name: str) -> str:
    """The key a column header is matched by: lower case, spaces and hyphens as ``_``.

    >>> normalise_column(" Tumor Size-cm ")
    'tumor_size_cm'
    """
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def canonical_column(name: str) -> str | None:
    """The canonical column a header means, or ``None`` when it is not part of the schema."""
    return COLUMN_ALIASES.get(normalise_column(name))


# Genotype spellings: an ordered list of (pattern, genotype); the first match wins. Patterns
# run on the lower-cased text with punctuation folded to single spaces.
_GENOTYPE_PATTERNS: tuple[tuple[str, GenotypeDetail], ...] = (
    (r"\b(unknown|not tested|n ?a|missing)\b", GenotypeDetail.UNKNOWN),
    (r"\bsdh", GenotypeDetail.WT_SDH_DEFICIENT),
    (r"\bnf1\b", GenotypeDetail.WT_NF1),
    (r"\bd842v\b", GenotypeDetail.PDGFRA_D842V),
    (r"\bpdgfra\b", GenotypeDetail.PDGFRA_OTHER),
    (r"\bkit exon 9\b", GenotypeDetail.KIT9),
    (r"\bkit exon (13|17)\b", GenotypeDetail.KIT13_17),
    (r"\bkit exon 11\b(?=.*(557|558))(?=.*del)", GenotypeDetail.KIT11_DEL_557_558),
    (r"\bkit exon 11\b.*(dup|\dins|insertion|itd)", GenotypeDetail.KIT11_DUPLICATION),
    (r"\bkit exon 11\b.*del", GenotypeDetail.KIT11_DEL_OTHER),
    (
        r"\bkit exon 11\b.*\b(subst|point|missense|[a-z]\d{3}[a-z])",
        GenotypeDetail.KIT11_SUBSTITUTION,
    ),
    (r"\bkit exon 11\b", GenotypeDetail.KIT11_UNSPECIFIED),
    (r"\b(wild ?type|wt)\b", GenotypeDetail.WT_OTHER),
)


def parse_genotype(text: str) -> GenotypeDetail:
    """Read a genotype from the way reports spell it.

    Codes (``kit11_del_557_558``) are accepted as they are; otherwise patterns recognise
    e.g. "KIT exon 11 p.W557_K558del", "c-KIT ex11 dup", "KIT11", "PDGFRA D842V",
    "wild-type (SDH-deficient)".

    >>> parse_genotype("c-KIT ex11 del 557-558")
    <GenotypeDetail.KIT11_DEL_557_558: 'kit11_del_557_558'>
    >>> parse_genotype("KIT11")
    <GenotypeDetail.KIT11_UNSPECIFIED: 'kit11_unspecified'>
    """
    raw = text.strip()
    try:
        return GenotypeDetail(raw.lower())
    except ValueError:
        pass
    folded = " ".join(re.sub(r"[^a-z0-9]+", " ", raw.lower()).split())
    folded = re.sub(r"\b(?:exon|ex|e)\s?(\d+)", r"exon \1", folded)
    folded = re.sub(r"\bkit\s?(\d+)", r"kit exon \1", folded)
    for pattern, detail in _GENOTYPE_PATTERNS:
        if re.search(pattern, folded):
            return detail
    raise ValidationError(
        f"unrecognised genotype {text!r}; write it as in the report (e.g. 'KIT exon 11 "
        "del 557-558', 'KIT exon 9', 'PDGFRA D842V', 'wild-type SDH-deficient') or use a code: "
        + ", ".join(g.value for g in GenotypeDetail)
    )


def schema_markdown() -> str:
    """The schema as the Markdown table of the README (a test keeps the two identical)."""
    lines = [
        "| column | unit | allowed values | required | also accepted as |",
        "| --- | --- | --- | --- | --- |",
    ]
    for spec in CLINICAL_COLUMNS:
        aliases = ", ".join(f"`{a}`" for a in spec.aliases) or "-"
        required = "yes" if spec.required else "no"
        lines.append(f"| `{spec.name}` | {spec.unit} | {spec.allowed} | {required} | {aliases} |")
    return "\n".join(lines)
