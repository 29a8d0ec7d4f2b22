"""The modelling table reads each patient's baseline CT, never a follow-up one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.domain import (
    MeasurementSource,
    ResponseCategory,
    ResponseCriteria,
    SegmentationSource,
)
from gistcad.store import AccessScope
from gistcad.store.followup import save_assessment
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


def _assessed(
    session: Session,
    patient: Patient,
    name: str,
    days: int,
    number: int,
    categories: dict[tuple[ResponseCriteria, MeasurementSource], ResponseCategory],
) -> None:
    """A follow-up study ``days`` after the treatment start with these effective categories."""
    study = _study(session, patient, name, dt.date(2024, 1, 10) + dt.timedelta(days), ("CT",))
    assert study.study_date is not None
    timepoint = Timepoint(
        patient_id=patient.id,
        study_id=study.id,
        number=number,
        study_date=study.study_date,
        days_from_treatment_start=days,
    )
    session.add(timepoint)
    session.flush()
    for (criteria, source), category in categories.items():
        reader = source is MeasurementSource.READER
        save_assessment(
            session,
            timepoint.id,
            criteria,
            category,
            "test",
            source=source,
            assessed_by="reader" if reader else "gistcad",
            override_reason="re-read" if reader else None,
        )


def test_response_labels_come_from_the_effective_categories(engine: Engine) -> None:
    choi, recist = ResponseCriteria.CHOI, ResponseCriteria.RECIST_1_1
    auto, reader = MeasurementSource.AUTOMATIC, MeasurementSource.READER
    sd, pd_, pr = ResponseCategory.STABLE, ResponseCategory.PROGRESSION, ResponseCategory.PARTIAL
    ne = ResponseCategory.NOT_EVALUABLE
    with Session(engine) as s:
        center = add_center(s, "Alpha")
        for name in ("P1", "P2", "P3", "P4", "P5"):
            patient = add_patient(s, center, name)
            _timepoint(s, _study(s, patient, f"{name}-base", dt.date(2024, 1, 3), ("CT",)), 0)
        patients = {p.pseudonym: p for p in s.query(Patient).all()}
        # the reader's Choi PR overrides the automatic SD; stable by RECIST through 6 months
        _assessed(
            s,
            patients["P1"],
            "p1a",
            61,
            1,
            {(choi, auto): sd, (choi, reader): pr, (recist, auto): sd},
        )
        _assessed(s, patients["P1"], "p1b", 183, 2, {(recist, auto): sd})
        # progression at 2 months counts, though stable at 6
        _assessed(s, patients["P2"], "p2a", 61, 1, {(choi, auto): pd_, (recist, auto): pd_})
        _assessed(s, patients["P2"], "p2b", 183, 2, {(recist, auto): sd})
        # not evaluable: unknown
        _assessed(s, patients["P3"], "p3a", 61, 1, {(choi, auto): ne, (recist, auto): sd})
        _assessed(s, patients["P3"], "p3b", 183, 2, {(recist, auto): ne})
        # P4: untreated, no follow-up. P5: the reader's SD overrides a PD at 2 months, and a
        # PD at 12 months is after the window: no CT near 6 months, so unknown
        _assessed(s, patients["P5"], "p5a", 61, 1, {(recist, auto): pd_, (recist, reader): sd})
        _assessed(s, patients["P5"], "p5c", 365, 2, {(recist, auto): pd_})
        s.commit()
    with Session(engine) as s:
        table = modelling_table(s, AccessScope.everything()).set_index("pseudonym")
    assert table.loc["P1", "choi_pr_fu1"] == 1.0 and table.loc["P1", "progression_6m"] == 0.0
    assert table.loc["P2", "choi_pr_fu1"] == 0.0 and table.loc["P2", "progression_6m"] == 1.0
    for name in ("P3", "P4"):
        assert table.loc[[name], ["choi_pr_fu1", "progression_6m"]].isna().all(axis=None)
    assert table.loc[["P5"], ["choi_pr_fu1", "progression_6m"]].isna().all(axis=None)


def test_a_semi_automatic_outline_serves_when_there_is_no_manual_mask(engine: Engine) -> None:
    with Session(engine) as s:
        center = add_center(s, "Alpha")
        both, outlined_only = add_patient(s, center, "P-1"), add_patient(s, center, "P-2")
        for patient in (both, outlined_only):
            study = _study(s, patient, patient.pseudonym, dt.date(2020, 1, 1), ("CT",))
            series = s.query(Series).filter(Series.study_id == study.id).one()
            if patient is outlined_only:  # the imported mask is gone: only the outline
                s.query(Segmentation).filter(Segmentation.series_id == series.id).delete()
            s.add(
                Segmentation(
                    series_id=series.id,
                    label="GIST",
                    source=SegmentationSource.SEMI_AUTOMATIC,
                    path=f"volumes/{patient.pseudonym}-outline.nii.gz",
                    sha256="2" * 64,
                )
            )
        s.commit()
        table = modelling_table(s, AccessScope.everything()).set_index("pseudonym")
    assert table.loc["P-1", "mask_path"] == "volumes/P-1-0-mask.nii.gz"  # the manual mask first
    assert table.loc["P-2", "mask_path"] == "volumes/P-2-outline.nii.gz"
