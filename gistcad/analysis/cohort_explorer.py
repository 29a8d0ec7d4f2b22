"""The cohort explorer's two tables: the patients, and table one.

The Cohort explorer page, its CSV downloads and ``gistcad cohort`` show the same tables, made
here from the store's cohort table (:func:`gistcad.store.queries.cohort_table`): one row per
patient with the risk class under the chosen scheme and the true genotype group as labelled
words, and a table one stratified by center or genotype.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np
import pandas as pd

from gistcad.analysis.grouping import genotype_groups, risk_groups
from gistcad.analysis.table_one import table_one
from gistcad.domain import RiskScheme


class TableOneBy(StrEnum):
    """What table one is stratified by."""

    CENTER = "center"
    GENOTYPE = "genotype"


#: table one's numeric rows, then its categorical ones (the stratifying one is left out)
TABLE_ONE_CONTINUOUS = ("age_at_diagnosis", "size_cm", "mitotic_count", "rfs_months")
TABLE_ONE_CATEGORICAL = ("sex", "site", "genotype", "center", "risk_class", "rupture")
#: the cohort-table columns the explorer's table one and figures read (risk inputs and the
#: genotype detail included): a large selection is read with these only. The one list of a
#: patient's clinical record: the modelling table
#: (:func:`gistcad.store.model_queries.modelling_table`) reads the same columns.
ANALYSED_COLUMNS = (
    "center",
    "sex",
    "age_at_diagnosis",
    "site",
    "size_cm",
    "mitotic_count",
    "mitotic_unit",
    "rupture",
    "genotype_detail",
    "rfs_months",
)


#: Columns of 0/1 (or True/False) flags, shown as "Yes" / "No".
YES_NO_COLUMNS = ("rupture", "adjuvant_imatinib", "neoadjuvant_imatinib")


def _yes_no(value: object) -> object:
    """1/True as "Yes", 0/False as "No", a missing value as it is.

    >>> _yes_no(1), _yes_no(False), _yes_no(None)
    ('Yes', 'No', None)
    """
    if value is None or (isinstance(value, float) and value != value):
        return value
    return "Yes" if bool(value) else "No"


def explorer_table(cohort: pd.DataFrame, scheme: RiskScheme) -> pd.DataFrame:
    """The patients as the explorer lists them (and exports them).

    The cohort table without the internal ``patient_id`` and ``fold`` (no importer fills
    it: a model's folds are kept with the model version), yes/no flags in words, with
    ``risk_class`` (the class under ``scheme``, labelled, e.g. "Very low", "Insufficient
    data", "Unknown") and ``genotype`` (the true genotype group, labelled, e.g. "KIT exon 11").
    """
    internal = [c for c in ("patient_id", "fold") if c in cohort.columns]
    shown = cohort.drop(columns=internal).reset_index(drop=True)
    if shown.empty:
        return shown.assign(risk_class=pd.Series(dtype=object), genotype=pd.Series(dtype=object))
    for flag in YES_NO_COLUMNS:
        if flag in shown.columns:
            codes, distinct = pd.factorize(shown[flag])  # _yes_no once per distinct value
            words = np.asarray([_yes_no(v) for v in distinct] + [None], dtype=object)
            shown[flag] = words[codes]  # code -1 (missing): the None at the end
    shown["risk_class"] = risk_groups(shown, scheme).to_numpy()
    shown["genotype"] = genotype_groups(shown).to_numpy()
    return shown


def explorer_table_one(
    patients: pd.DataFrame, by: TableOneBy | str, scheme: RiskScheme
) -> pd.DataFrame:
    """Table one of :func:`explorer_table`'s patients, stratified by center or genotype.

    Raises
    ------
    ValidationError
        From :func:`~gistcad.analysis.table_one.table_one`, e.g. for an empty selection.
    """
    by = TableOneBy(by)
    return table_one(
        patients,
        by=by.value,
        continuous=list(TABLE_ONE_CONTINUOUS),
        categorical=[c for c in TABLE_ONE_CATEGORICAL if c != by.value],
        labels={
            "age_at_diagnosis": "Age (years)",
            "size_cm": "Size (cm)",
            "mitotic_count": "Mitoses",
            "rfs_months": "RFS follow-up (months)",
            "risk_class": f"Risk ({scheme.label})",
        },
    )
