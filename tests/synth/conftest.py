"""Shared by the export tests: one small phantom CT written as its center's CT series.

:func:`small_ct` renders a 25-slice, 96 × 96 phantom of :data:`RECORD` (FAKE identifying
data); :func:`write_series` writes it with fixed UIDs the way its center's vendor does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest

from gistcad.synth.centers import DEFAULT_CENTERS, CenterProfile
from gistcad.synth.ct_export import derive_uid, write_ct_series
from gistcad.synth.phantom import RenderedCT, render_ct

STUDY_DATE = date(2021, 3, 4)
RECORD: dict[str, Any] = {
    "hospital_id": "LYO-000123",
    "patient_name": "DUPONT^Élodie",
    "birth_date": date(1958, 7, 14),
    "sex": "female",
    "age_years": 62,
    "center": "Lyon",
    "site": "stomach",
    "sub_site": "antrum",
    "size_cm": 4.0,
    "surgery_date": date(2021, 4, 1),
    "enhancement_hu": 60.0,
    "heterogeneity": 0.4,
    "necrosis_fraction": 0.2,
    "lobulation": 0.5,
    "exophytic": True,
    "calcification": False,
}
# one center per vendor habit: Siemens (uint16, ascending), GE (int16 −1024, reversed,
# hashed names), Philips (uint16, reversed), Toshiba (int16, intercept 0, hashed names)
CENTERS = {c.vendor: c for c in DEFAULT_CENTERS}


def small_ct(center: CenterProfile) -> RenderedCT:
    return render_ct(
        RECORD,
        replace(center, slice_thickness_mm=3.0),
        matrix=96,
        rng=np.random.default_rng(11),
        scan_length_mm=75.0,
    )


def write_series(ct: RenderedCT, center: CenterProfile, out: Path) -> list[Path]:
    return write_ct_series(
        ct,
        RECORD,
        center,
        out,
        study_uid=derive_uid("study"),
        series_uid=derive_uid("ser"),
        frame_of_reference_uid=derive_uid("for"),
        uid_root_entropy="seed-11",
        study_date=STUDY_DATE,
    )


def read_sorted(paths: list[Path]) -> list[pydicom.Dataset]:
    datasets = [pydicom.dcmread(p) for p in paths]
    return sorted(datasets, key=lambda d: float(d.ImagePositionPatient[2]))


@pytest.fixture(scope="module")
def ge_series(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedCT, list[Path]]:
    center = CENTERS["GE MEDICAL SYSTEMS"]
    ct = small_ct(center)
    return ct, write_series(ct, center, tmp_path_factory.mktemp("ge") / "ct")
