"""Clinical tables as each synthetic center exports them.

Every center writes the same facts (the columns of :data:`gistcad.ingest.clinical_schema
.CLINICAL_COLUMNS`), but in its own way, so that the importer's tolerance is exercised by the
demo itself:

========================  =================================================================
``csv``                   canonical column names, ``,`` separator, ISO dates, codes
``csv_semicolon``         ``;`` separator, decimal commas, dates as DD.MM.YYYY (European
                          spreadsheet locale)
``csv_aliases``           other column names (documented aliases), genotypes spelled as in
                          pathology reports, sex as M/F, flags as yes/no, and the patient's
                          name and birth date in extra columns (which the importer must drop)
``xlsx``                  an Excel workbook, one sheet, canonical names
========================  =================================================================

Files are byte-identical for the same input: no clock time is written (the workbook's
properties and its zip members carry a fixed date).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from openpyxl import Workbook

from gistcad.domain import GenotypeDetail
from gistcad.ingest.clinical_schema import CLINICAL_COLUMNS
from gistcad.synth.centers import CenterProfile, TableFormat

FIXED_TIME = dt.datetime(2020, 1, 1, 0, 0, 0)
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")

#: How reports spell each genotype; the csv_aliases center rotates through these.
REPORT_SPELLINGS: dict[GenotypeDetail, tuple[str, ...]] = {
    GenotypeDetail.KIT11_DEL_557_558: (
        "KIT exon 11 p.W557_K558del",
        "c-KIT ex11 del 557-558",
        "KIT exon 11 p.K558delinsNP",
    ),
    GenotypeDetail.KIT11_DEL_OTHER: ("KIT exon 11 p.V560_L576del", "c-KIT ex11 deletion"),
    GenotypeDetail.KIT11_SUBSTITUTION: ("KIT exon 11 p.V559D", "KIT exon 11 W557R"),
    GenotypeDetail.KIT11_DUPLICATION: ("KIT exon 11 p.Y578_D579insX", "c-KIT ex11 dup"),
    GenotypeDetail.KIT11_UNSPECIFIED: ("KIT11", "KIT exon 11"),
    GenotypeDetail.KIT9: ("KIT exon 9 p.A502_Y503dup", "c-KIT ex9"),
    GenotypeDetail.KIT13_17: ("KIT exon 13 p.K642E", "KIT exon 17 p.N822K"),
    GenotypeDetail.PDGFRA_D842V: ("PDGFRA exon 18 p.D842V", "PDGFRA D842V"),
    GenotypeDetail.PDGFRA_OTHER: ("PDGFRA exon 12 p.V561D", "PDGFRA exon 18 p.I843_D846del"),
    GenotypeDetail.WT_SDH_DEFICIENT: ("wild-type (SDH-deficient)", "WT, SDHB loss"),
    GenotypeDetail.WT_NF1: ("wild-type (NF1)", "WT NF1"),
    GenotypeDetail.WT_OTHER: ("wild-type", "KIT/PDGFRA wild type"),
    GenotypeDetail.UNKNOWN: ("not tested", "unknown"),
}
FILE_NAMES: dict[TableFormat, str] = {
    TableFormat.CSV: "clinical.csv",
    TableFormat.CSV_SEMICOLON: "clinical.csv",
    TableFormat.CSV_ALIASES: "clinical.csv",
    TableFormat.XLSX: "clinical.xlsx",
}


def canonical_table(cohort: pd.DataFrame) -> pd.DataFrame:
    """The cohort rows as the canonical clinical table (codes, cm, months, ISO dates)."""
    table = pd.DataFrame(
        {
            "patient_id": cohort["hospital_id"],
            "sex": cohort["sex"],
            "age_at_diagnosis": cohort["age_years"].round(1),
            "site": cohort["site"],
            "sub_site": cohort["sub_site"],
            "size_cm": cohort["size_cm"].round(1),
            "mitotic_count": cohort["mitotic_count"].astype(int),
            "mitotic_unit": cohort["mitotic_unit"],
            "rupture": cohort["rupture"].astype(int),
            "histology": cohort["histology"],
            "genotype": cohort["genotype_detail"],
            "surgery_date": cohort["surgery_date"],
            "neoadjuvant_imatinib": (
                cohort["neoadjuvant_imatinib"].astype(int)
                if "neoadjuvant_imatinib" in cohort
                else 0
            ),
            "adjuvant_imatinib": cohort["adjuvant_imatinib"].astype(int),
            "imatinib_dose_mg_per_day": cohort["imatinib_dose_mg_per_day"],
            "imatinib_duration_months": cohort["imatinib_months"],
            "rfs_months": cohort["rfs_months"].round(2),
            "rfs_event": cohort["rfs_event"].astype(int),
            "os_months": cohort["os_months"].round(2),
            "os_event": cohort["os_event"].astype(int),
            "last_follow_up": cohort["last_follow_up"],
        }
    )
    assert list(table.columns) == [spec.name for spec in CLINICAL_COLUMNS]
    return table.reset_index(drop=True)


def write_clinical_table(cohort: pd.DataFrame, center: CenterProfile, out_dir: Path) -> Path:
    """Write ``cohort`` (one center's rows) in ``center``'s format; returns the file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAMES[center.table_format]
    table = canonical_table(cohort)
    writer = {
        TableFormat.CSV: _write_csv,
        TableFormat.CSV_SEMICOLON: _write_semicolon_csv,
        TableFormat.CSV_ALIASES: _write_alias_csv,
        TableFormat.XLSX: _write_xlsx,
    }[center.table_format]
    writer(table, cohort.reset_index(drop=True), path)
    return path


def _write_csv(table: pd.DataFrame, _cohort: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False, lineterminator="\n")


def _write_semicolon_csv(table: pd.DataFrame, _cohort: pd.DataFrame, path: Path) -> None:
    european = table.copy()
    for column in ("surgery_date", "last_follow_up"):
        european[column] = [d.strftime("%d.%m.%Y") if pd.notna(d) else "" for d in table[column]]
    european.to_csv(path, index=False, sep=";", decimal=",", lineterminator="\n")


def _write_alias_csv(table: pd.DataFrame, cohort: pd.DataFrame, path: Path) -> None:
    spec_aliases = {
        spec.name: spec.aliases[0] if spec.aliases else spec.name for spec in CLINICAL_COLUMNS
    }
    local = table.copy()
    local["genotype"] = [
        _spelling(GenotypeDetail(g), int(i))
        for g, i in zip(table["genotype"], cohort["patient_index"], strict=True)
    ]
    local["sex"] = table["sex"].map({"male": "M", "female": "F"})
    for flag in ("rupture", "neoadjuvant_imatinib", "adjuvant_imatinib"):
        local[flag] = table[flag].map({0: "no", 1: "yes"})
    local = local.rename(columns=spec_aliases)
    local.insert(1, "patient_name", cohort["patient_name"].str.replace("^", " ", regex=False))
    local.insert(2, "date_of_birth", cohort["birth_date"])
    local.to_csv(path, index=False, lineterminator="\n")


def _spelling(detail: GenotypeDetail, patient_index: int) -> str:
    spellings = REPORT_SPELLINGS[detail]
    return spellings[patient_index % len(spellings)]


def _write_xlsx(table: pd.DataFrame, _cohort: pd.DataFrame, path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "patients"
    sheet.append(list(table.columns))
    for row in table.itertuples(index=False):
        sheet.append([_cell(v) for v in row])
    workbook.properties.creator = "gistcad synthetic cohort"
    workbook.properties.created = FIXED_TIME
    workbook.properties.modified = FIXED_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(_fixed_zip_times(buffer.getvalue()))


def _cell(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every member dated 1980-01-01 and the workbook's "modified" time
    fixed (openpyxl stamps the clock when saving), so that the bytes are reproducible."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = _MODIFIED.sub(
                    rf"\g<1>{FIXED_TIME:%Y-%m-%dT%H:%M:%SZ}\g<2>".encode(), content
                )
            target.writestr(fixed, content)
    return out.getvalue()
