"""The columns of a patient's record by name: one definition for every table that lists
patients (:func:`gistcad.store.queries.cohort_table`,
:func:`gistcad.store.model_queries.modelling_table`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, type_coerce

from gistcad.store.models import Center, Outcome, Patient, Treatment, Tumour


def _coded(column: Any, name: str) -> Any:
    """A coded column read as its plain string value (no enum object per row)."""
    return type_coerce(column, String()).label(name)


def cohort_column_expressions() -> dict[str, Any]:
    """Every stored column of the cohort table, by name, as a labelled expression over the
    patient's rows (``n_series`` needs its join; the tumour is the primary one, lesion 1):
    the cohort table and the modelling table select their columns from here by name."""
    return {
        "patient_id": Patient.id.label("patient_id"),
        "pseudonym": Patient.pseudonym.label("pseudonym"),
        "center": Center.name.label("center"),
        "sex": _coded(Patient.sex, "sex"),
        "age_at_diagnosis": Patient.age_at_diagnosis.label("age_at_diagnosis"),
        "split": _coded(Patient.split, "split"),
        "fold": Patient.fold.label("fold"),
        "site": _coded(Tumour.site, "site"),
        "sub_site": Tumour.sub_site.label("sub_site"),
        "size_cm": Tumour.size_cm.label("size_cm"),
        "mitotic_count": Tumour.mitotic_count.label("mitotic_count"),
        "mitotic_unit": _coded(Tumour.mitotic_unit, "mitotic_unit"),
        "rupture": Tumour.rupture.label("rupture"),
        "histology": Tumour.histology.label("histology"),
        "genotype_detail": _coded(Tumour.genotype_detail, "genotype_detail"),
        "adjuvant_imatinib": Treatment.adjuvant_imatinib.label("adjuvant_imatinib"),
        "neoadjuvant_imatinib": Treatment.neoadjuvant_imatinib.label("neoadjuvant_imatinib"),
        "rfs_months": Outcome.rfs_months.label("rfs_months"),
        "rfs_event": Outcome.rfs_event.label("rfs_event"),
        "os_months": Outcome.os_months.label("os_months"),
        "os_event": Outcome.os_event.label("os_event"),
    }
