"""Tables as a user reads them: column headers and coded values labelled, no ``None`` cells.

The one translation from stored codes to words for every table a page shows or exports:
coded values through the label tables of :mod:`gistcad.domain`, column names through
:data:`COLUMN_LABELS` (and the patterns of :func:`column_label`), missing values as
:data:`MISSING`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from enum import StrEnum

import pandas as pd

from gistcad import domain

#: How a missing value reads in a table.
MISSING = "—"

#: Headers of the columns the pages show, by column name.
COLUMN_LABELS: dict[str, str] = {
    "pseudonym": "Pseudonym",
    "center": "Center",
    "country": "Country",
    "patients": "Patients",
    "scanner_notes": "Scanner notes",
    "sex": "Sex",
    "age_at_diagnosis": "Age (years)",
    "split": "Split",
    "fold": "Fold",
    "site": "Site",
    "sub_site": "Sub-site",
    "size_cm": "Size (cm)",
    "mitotic_count": "Mitoses",
    "mitotic_unit": "Mitosis count per",
    "rupture": "Rupture",
    "histology": "Histology",
    "genotype_detail": "Mutation",
    "genotype_group": "Genotype group",
    "genotype": "Genotype",
    "risk_class": "Risk class",
    "adjuvant_imatinib": "Adjuvant imatinib",
    "neoadjuvant_imatinib": "Neoadjuvant imatinib",
    "rfs_months": "RFS (months)",
    "rfs_event": "Recurrence",
    "os_months": "OS (months)",
    "os_event": "Death",
    "n_series": "CT series",
    "group": "Group",
    "n": "Patients",
    "events": "Events",
    "median": "Median",
    "median_ci_lower": "Median, 95 % CI lower",
    "median_ci_upper": "Median, 95 % CI upper",
    "median_text": "Median (95 % CI)",
    "small_group": "Below the minimum group size",
    "note": "Note",
    "time": "Time",
    "at_risk": "Number at risk",
    "censored": "Censored",
    "group_a": "Group A",
    "group_b": "Group B",
    "statistic": "χ²",
    "p_value": "p",
    "p_holm": "p (Holm)",
    "term": "Term",
    "hr": "Hazard ratio",
    "hr_ci_lower": "HR, 95 % CI lower",
    "hr_ci_upper": "HR, 95 % CI upper",
    "ci_lower": "95 % CI lower",
    "ci_upper": "95 % CI upper",
    "coef": "log HR",
    "se": "Standard error",
    "p": "p",
    "reference": "Reference",
    "verdict": "Verdict",
    "source": "Source",
    "prediction_source": "Source of the predicted status",
    "variable": "Variable",
    "level": "Level",
    "overall": "Overall",
    "test": "Test",
    "name": "Name",
    "role": "Role",
    "centers": "Centers",
    "status": "Status",
    "last_login_at": "Last login",
    "created_at": "Created",
    "at": "At",
    "actor": "Who",
    "action": "Action",
    "target_kind": "About",
    "target": "Which",
    "detail": "Detail",
    "what": "What",
    "positives": "Positives",
    "auc": "AUC",
    "auc_ci_lower": "AUC, 95 % CI lower",
    "auc_ci_upper": "AUC, 95 % CI upper",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "calibration_slope": "Calibration slope",
    "calibration_intercept": "Calibration intercept",
    "center_mean_auc": "Mean AUC of the centers",
    "center_mean_auc_ci_lower": "Mean AUC of the centers, 95 % CI lower",
    "center_mean_auc_ci_upper": "Mean AUC of the centers, 95 % CI upper",
    "ceiling_auc": "Ceiling AUC",
    "latent_with_age_sex_auc": "Ceiling AUC with age and sex",
    "observable_auc": "Observable reference AUC",
    "clinical_oracle_auc": "Clinical oracle AUC",
    "model": "Model",
    "true": "True class",
    "predicted": "Predicted class",
    "probability": "Probability",
}

_SURVIVAL_AT = re.compile(r"^survival_at_(?P<t>[0-9.]+)(?P<ci>_ci_lower|_ci_upper)?$")


def column_label(column: object) -> str:
    """The header of ``column``: from :data:`COLUMN_LABELS`, ``survival_at_24`` as
    "Survival at 24" (and its CI bounds), else the name with underscores as spaces.

    >>> column_label("median_ci_lower")
    'Median, 95 % CI lower'
    >>> column_label("survival_at_60_ci_upper")
    'Survival at 60, 95 % CI upper'
    """
    name = str(column)
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    found = _SURVIVAL_AT.match(name)
    if found:
        bound = {"_ci_lower": ", 95 % CI lower", "_ci_upper": ", 95 % CI upper"}
        return f"Survival at {found['t']}{bound.get(found['ci'] or '', '')}"
    if "_" in name and name.islower():
        text = name.replace("_", " ")
        return text[0].upper() + text[1:]
    return name


def code_labels() -> dict[str, str]:
    """Every coded value of :mod:`gistcad.domain` whose label differs from it, by code."""
    labels: dict[str, str] = {}
    for name in dir(domain):
        table = getattr(domain, name)
        if name.endswith("_LABELS") and isinstance(table, Mapping):
            for code, label in table.items():
                if isinstance(label, str) and str(code) != label:
                    labels.setdefault(str(code), label)
    return labels


_CODES = code_labels()


def cell_text(value: object, labels: Mapping[str, str] | None = None) -> object:
    """One cell as shown: a code as its label, a missing value as :data:`MISSING`.

    >>> cell_text("jejunum_ileum"), cell_text(None), cell_text(2.5)
    ('Jejunum/ileum', '—', 2.5)
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING
    if isinstance(value, float) and math.isnan(value):
        return MISSING
    if isinstance(value, StrEnum):
        value = value.value
    if isinstance(value, str):
        return (labels or _CODES).get(value, value)
    return value


def _number_text(value: object) -> object:
    shown = cell_text(value)
    if isinstance(shown, float):
        return f"{shown:.4g}"
    return shown if isinstance(shown, str) else str(shown)


def display_table(table: pd.DataFrame, columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``table`` as a page shows (and exports) it.

    Parameters
    ----------
    table : pandas.DataFrame
    columns : Mapping[str, str], optional
        Headers that replace :func:`column_label`'s for some columns.

    Returns
    -------
    pandas.DataFrame
        A copy: text cells that are codes replaced by their labels, missing cells as
        :data:`MISSING` (a numeric column with a gap becomes text, its numbers to four
        significant digits), headers labelled; the index is kept.
    """
    shown = table.copy()
    for name in shown.columns:
        column = shown[name]
        if column.dtype == object or isinstance(column.dtype, pd.CategoricalDtype):
            shown[name] = [cell_text(v) for v in column.astype(object)]
        elif column.isna().any():  # numbers with gaps: all as text, so the gaps can read "—"
            shown[name] = [_number_text(v) for v in column.astype(object)]
    if isinstance(shown.index, pd.Index) and shown.index.dtype == object:
        shown.index = pd.Index([cell_text(v) for v in shown.index], name=shown.index.name)
    extra = dict(columns or {})
    return shown.rename(columns=lambda c: extra.get(str(c), column_label(c)))
