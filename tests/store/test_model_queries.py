"""The modelling table reads each patient's baseline CT, never a follow-up one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import SegmentationSource
from gistcad.store import AccessScope
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import Patient, Segmentation, Series, Study, Timepoint
from tests.conftest import BACKENDS
from tests.factories import add_center, add_patient

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)


def _study(
    session: Session, patient: Patient, name: str, date: dt.date, modalities: tuple[str, ...]
) -> Study:
    """A dated study of ``patient`` with one series per modality (ids in that order) and a
    manual mask on each CT series, all named by ``name``."""
    study = Study(patient_id=patient.id, study_instance_uid=f"1.2.3.{name}", study_date=date)
    session.add(study)
    session.flush()
    for k, modality in enumerate(modalities):
        series = Series(
            study_id=study.id,
            series_instance_uid=f"1.2.3.{name}.{k}",
            modality=modality,
            spacing_mm=[1.0, 1.0, 3.0],
            shape=[64, 64, 9],
            orientation=[1, 0, 0, 0, 1, 0],
            volume_path=f"volumes/{name}-{k}.nii",
            volume_sha256="0" * 64,
        )
        session.add(series)
        session.flush()
        if modality == "CT":
            session.add(
                Segmentation(
                    series_id=series.id,
                    label="GIST",
                    source=SegmentationSource.MANUAL,
                    path=f"volumes/{name}-{k}-mask.nii.gz",
                    sha256="1" * 64,
                )
            )
    session.flush()
    return study


def _timepoint(session: Session, study: Study, number: int) -> None:
    assert study.study_date is not None
    session.add(
        Timepoint(
            patient_id=study.patient_id,
            study_id=study.id,
            number=number,
            study_date=study.study_date,
        )
    )


def test_the_baseline_ct_is_read_even_when_a_follow_up_series_has_a_lower_id(
    engine: Engine,
) -> None:
    day = dt.date(2024, 1, 10)
    with Session(engine) as s:
        center = add_center(s, "Alpha")
        treated = add_patient(s, center, "A-treated")
        # the follow-up study is stored first (lower series id), as an import in any order may
        follow_up = _study(s, treated, "fu", day + dt.timedelta(days=60), ("CT",))
        baseline = _study(s, treated, "base", day, ("SR", "CT"))  # a non-CT series first
        _timepoint(s, baseline, 0)
        _timepoint(s, follow_up, 1)
        single = add_patient(s, center, "B-single")
        _study(s, single, "b1", day, ("CT", "CT"))  # no timepoints: the first CT series
        add_patient(s, center, "C-no-ct")  # no CT at all: not in the table
        s.commit()
    with Session(engine) as s:
        table = modelling_table(s, AccessScope.everything()).set_index("pseudonym")
    assert list(table.index) == ["A-treated", "B-single"]
    assert table.loc["A-treated", "volume_path"] == "volumes/base-1.nii"
    assert table.loc["A-treated", "mask_path"] == "volumes/base-1-mask.nii.gz"
    assert table.loc["B-single", "volume_path"] == "volumes/b1-0.nii"
    assert table.loc["B-single", "mask_path"] == "volumes/b1-0-mask.nii.gz"
