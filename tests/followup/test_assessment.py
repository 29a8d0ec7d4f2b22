"""Use cases of treatment response on SQLite and PostgreSQL, from masks written to a data folder.

Two patients (sizes and HU by hand, see tests/followup/builders.py):

- A-001 (center Alpha): lesion 1 (liver, 21 voxels: 20√2 mm, 80 HU) and lesion 2 (stomach,
  11 voxels: 10√2 mm, 70 HU). Sum at baseline 30√2 mm. Visit 1: lesion 1 is 19√2 mm at 60 HU,
  lesion 2 unchanged at 50 HU: sum 29√2 mm (−1/30 = −3 %), density 75 → 55 HU (−27 %): RECIST
  SD, Choi PR. Visit 2: a new lesion 3 in the liver: PD by both.
- B-001 (center Beta): one lesion of 21 voxels (20√2 mm), then 14 voxels (13√2 mm): −35 %, PR by
  both (same HU).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import (
    LesionOrgan,
    LesionRole,
    MeasurementSource,
    ResponseCategory,
    ResponseCriteria,
    Role,
    SegmentationSource,
)
from gistcad.errors import AccessDenied, NotFoundError, ValidationError
from gistcad.followup import (
    MeasurementOverride,
    PatientResponse,
    assess_cohort,
    assess_patient,
    cohort_response,
    override_category,
    override_measurement,
    patient_response,
)
from gistcad.followup.case import case_followup
from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import Volume
from gistcad.ingest.follow_up import link_follow_up
from gistcad.layout import DataLayout
from gistcad.store import AccessScope
from gistcad.store.models import (
    AuditEvent,
    Center,
    Lesion,
    LesionMeasurement,
    Patient,
    ResponseAssessment,
    Segmentation,
)
from tests.conftest import BACKENDS
from tests.factories import add_center
from tests.followup.builders import (
    AFFINE,
    SHAPE,
    Seen,
    Spec,
    _square,
    add_followup_patient,
    diagonal_mm,
)

pytestmark = pytest.mark.parametrize("engine", BACKENDS, indirect=True)

EVERYTHING = AccessScope.everything(user="operator")
RECIST, CHOI = ResponseCriteria.RECIST_1_1, ResponseCriteria.CHOI
SQRT2 = math.sqrt(2)


Cohort = tuple[Engine, DataLayout, dict[str, int]]


@pytest.fixture
def cohort(engine: Engine, tmp_path: Path) -> Cohort:
    layout = DataLayout(tmp_path)
    with Session(engine) as s:
        alpha, beta = add_center(s, "Alpha"), add_center(s, "Beta")
        add_followup_patient(
            s,
            tmp_path,
            alpha,
            "A-001",
            {
                1: Spec(LesionOrgan.LIVER),
                2: Spec(LesionOrgan.STOMACH),
                3: Spec(LesionOrgan.LIVER),
            },
            [
                {1: Seen(21, 80), 2: Seen(11, 70)},
                {1: Seen(20, 60), 2: Seen(11, 50)},
                {1: Seen(21, 80), 2: Seen(11, 70), 3: Seen(6, 60)},
            ],
        )
        add_followup_patient(
            s,
            tmp_path,
            beta,
            "B-001",
            {1: Spec(LesionOrgan.PERITONEUM)},
            [{1: Seen(21, 70)}, {1: Seen(14, 70)}],
        )
        s.commit()
        ids = {"alpha": alpha.id, "beta": beta.id}
    return engine, layout, ids


def _categories(engine: Engine) -> dict[tuple[int, str, str], tuple[str, str]]:
    """(timepoint id, criteria, source) -> (category, reason) of every stored assessment."""
    with Session(engine) as s:
        rows = s.scalars(select(ResponseAssessment)).all()
        return {
            (r.timepoint_id, r.criteria.value, r.source.value): (r.category.value, r.reason)
            for r in rows
        }


def test_assess_cohort_measures_every_mask_and_stores_both_criteria(cohort: Cohort) -> None:
    engine, layout, _ = cohort
    with Session(engine) as s:
        run = assess_cohort(s, EVERYTHING, layout)
        s.commit()
    assert run.problems == ()
    assert [(r.pseudonym, r.timepoints, r.measured) for r in run.runs] == [
        ("A-001", 3, 7),
        ("B-001", 2, 2),
    ]
    with Session(engine) as s:
        measurements = s.scalars(select(LesionMeasurement)).all()
        assert {(m.source, m.measured_by) for m in measurements} == {
            (MeasurementSource.AUTOMATIC, "gistcad")
        }
        big = [m for m in measurements if m.mean_hu == 80]
        assert len(big) == 2  # lesion 1 of A-001 at baseline and at visit 2
        for m in big:
            assert m.longest_diameter_mm == pytest.approx(diagonal_mm(21))
            assert m.volume_ml == pytest.approx(21 * 21 * 9 / 1000)
            assert m.solid_mean_hu == 80
            assert m.segmentation_id is not None
        roles = {(le.patient_id, le.number): le.role for le in s.scalars(select(Lesion))}
        assert sorted(r.value for r in roles.values()) == ["new", "target", "target", "target"]
    response = _response(engine, "A-001")
    table = response.assessments.set_index(["timepoint", "criteria"])
    assert table.loc[(1, RECIST.value), "category"] == "sd"
    assert table.loc[(1, RECIST.value), "size_change"] == pytest.approx(-1 / 30)
    assert table.loc[(1, CHOI.value), "category"] == "pr"
    assert table.loc[(1, CHOI.value), "reason"] == "size −3 %, density −27 %"
    assert table.loc[(1, CHOI.value), "density_change"] == pytest.approx((55 - 75) / 75)
    assert table.loc[(2, RECIST.value), "category"] == "pd"
    assert table.loc[(2, RECIST.value), "reason"] == "new lesion (liver)"
    assert table.loc[(2, CHOI.value), "category"] == "pd"
    b = _response(engine, "B-001").assessments.set_index("criteria")
    assert list(b["category"]) == ["pr", "pr"]
    assert b.loc[RECIST.value, "size_change"] == pytest.approx((13 - 20) / 20)
    with Session(engine) as s:
        trail = s.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.target).where(
                AuditEvent.action == "response.assess"
            )
        ).all()
    assert sorted(trail) == [
        ("operator", "response.assess", "A-001"),
        ("operator", "response.assess", "B-001"),
    ]


def _response(engine: Engine, pseudonym: str, scope: AccessScope = EVERYTHING) -> PatientResponse:
    with Session(engine) as s:
        out = patient_response(s, scope, pseudonym)
        s.commit()
    return out


def test_the_lesion_table_gives_diameters_hu_and_change_from_baseline(cohort: Cohort) -> None:
    engine, layout, _ = cohort
    with Session(engine) as s:
        assess_patient(s, EVERYTHING, layout, "A-001")
        s.commit()
    response = _response(engine, "A-001")
    assert list(response.timepoints["days_from_treatment_start"]) == [0, 60, 120]
    lesion1 = response.lesions[response.lesions["lesion"] == 1].set_index("timepoint")
    assert lesion1.loc[1, "longest_diameter_mm"] == pytest.approx(19 * SQRT2)
    assert lesion1.loc[1, "diameter_change"] == pytest.approx(-1 / 20)
    assert lesion1.loc[1, "hu_change"] == pytest.approx(-0.25)
    assert set(lesion1["source"]) == {"automatic"} and lesion1["role"].iloc[0] == "target"
    new = response.lesions[response.lesions["lesion"] == 3]
    assert list(new["timepoint"]) == [2] and list(new["role"]) == ["new"]
    assert response.notes == ()
    data = response.to_dict()
    assert data["timepoints"][1]["study_date"] == "2024-03-10"
    assert data["assessments"][0]["reader_category"] is None


def test_a_pi_sees_and_assesses_only_their_centers(cohort: Cohort) -> None:
    engine, layout, ids = cohort
    pi = AccessScope.centers(ids["alpha"], user="alice")
    with Session(engine) as s:
        run = assess_cohort(s, pi, layout)
        assert [r.pseudonym for r in run.runs] == ["A-001"]
        with pytest.raises(NotFoundError, match="no patient with pseudonym 'B-001' in your scope"):
            assess_patient(s, pi, layout, "B-001")
        with pytest.raises(NotFoundError, match="B-001"):
            patient_response(s, pi, "B-001")
        assert list(cohort_response(s, pi)["pseudonym"]) == ["A-001"]
        clinician = AccessScope.centers(ids["alpha"], role=Role.CLINICIAN, user="carol")
        with pytest.raises(AccessDenied, match="carol \\(clinician\\) may not run jobs"):
            assess_patient(s, clinician, layout, "A-001")
        s.commit()
    with Session(engine) as s:  # nothing of Beta was measured
        assert len(s.scalars(select(LesionMeasurement)).all()) == 7


def test_a_reader_measurement_is_kept_beside_the_automatic_one_and_counts(cohort: Cohort) -> None:
    engine, layout, ids = cohort
    reader = AccessScope.centers(ids["alpha"], role=Role.CLINICIAN, user="carol")
    with Session(engine) as s:
        assess_patient(s, EVERYTHING, layout, "A-001")
        # lesion 1 at visit 1 measured 12 mm by the reader: sum 12 + 10√2 = 26.14 mm from
        # 30√2 = 42.43 mm is −38 %: the automatic RECIST category becomes PR
        override_measurement(
            s, reader, "A-001", 1, 1, MeasurementOverride(longest_diameter_mm=12.0), "caliper"
        )
        s.commit()
    with Session(engine) as s:
        read = s.scalars(
            select(LesionMeasurement).where(LesionMeasurement.source == MeasurementSource.READER)
        ).one()
        auto = s.scalars(
            select(LesionMeasurement).where(
                LesionMeasurement.lesion_id == read.lesion_id,
                LesionMeasurement.timepoint_id == read.timepoint_id,
                LesionMeasurement.source == MeasurementSource.AUTOMATIC,
            )
        ).one()
    assert (read.longest_diameter_mm, read.mean_hu, read.measured_by, read.reason) == (
        12.0,
        None,
        "carol",
        "caliper",
    )
    assert auto.longest_diameter_mm == pytest.approx(19 * SQRT2) and auto.mean_hu == 60
    response = _response(engine, "A-001")
    row = response.lesions.set_index(["lesion", "timepoint"]).loc[(1, 1)]
    assert row["longest_diameter_mm"] == 12.0 and row["source"] == "reader"
    assert row["automatic_longest_diameter_mm"] == pytest.approx(19 * SQRT2)
    assert row["mean_hu"] == 60  # the reader gave no HU: the automatic one still counts
    assert (row["reader"], row["reader_reason"]) == ("carol", "caliper")
    recist1 = response.assessments.set_index(["timepoint", "criteria"]).loc[(1, RECIST.value)]
    assert recist1["category"] == "pr"
    expected = (12 + 10 * SQRT2 - 30 * SQRT2) / (30 * SQRT2)
    assert recist1["size_change"] == pytest.approx(expected)
    # measuring again keeps the reader's value, and it still counts
    with Session(engine) as s:
        assess_cohort(s, EVERYTHING, layout, ["A-001"])
        s.commit()
    again = _response(engine, "A-001").assessments.set_index(["timepoint", "criteria"])
    assert again.loc[(1, RECIST.value), "category"] == "pr"
    with Session(engine) as s:
        trail = s.execute(
            select(AuditEvent.actor, AuditEvent.target, AuditEvent.detail).where(
                AuditEvent.action == "response.override"
            )
        ).all()
    assert [(a, t) for a, t, _ in trail] == [("carol", "A-001")]
    assert trail[0][2] == {
        "lesion": 1,
        "timepoint": 1,
        "reason": "caliper",
        "longest_diameter_mm": 12.0,
    }


def test_a_reader_category_outranks_the_automatic_one_which_is_kept(cohort: Cohort) -> None:
    engine, layout, _ = cohort
    with Session(engine) as s:
        assess_cohort(s, EVERYTHING, layout)
        override_category(
            s, EVERYTHING, "A-001", 1, CHOI, ResponseCategory.STABLE, "heterogeneous enhancement"
        )
        s.commit()
    table = _response(engine, "A-001").assessments.set_index(["timepoint", "criteria"])
    choi1 = table.loc[(1, CHOI.value)]
    assert (choi1["category"], choi1["source"]) == ("sd", "reader")
    assert (choi1["automatic_category"], choi1["reader_reason"]) == (
        "pr",
        "heterogeneous enhancement",
    )
    stored = _categories(engine)
    assert sum(1 for (_, c, src) in stored if c == CHOI.value and src == "reader") == 1
    summary = cohort_response_frame(engine).set_index("pseudonym")
    # Choi SD (reader) then PD: best SD; RECIST SD then PD: best SD, first PD at visit 2
    assert summary.loc["A-001", "best_choi"] == "sd"
    assert summary.loc["A-001", "best_recist"] == "sd"
    assert summary.loc["A-001", "first_pd_recist_timepoint"] == 2
    assert summary.loc["A-001", "first_pd_recist_days"] == 120
    assert summary.loc["A-001", "best_size_change"] == pytest.approx(-1 / 30)
    assert summary.loc["A-001", "best_density_change"] == pytest.approx(-20 / 75)
    assert summary.loc["B-001", "best_recist"] == "pr"
    assert pd.isna(summary.loc["B-001", "first_pd_choi_timepoint"])  # no progression


def cohort_response_frame(engine: Engine) -> pd.DataFrame:
    with Session(engine) as s:
        return cohort_response(s, EVERYTHING)


def test_overrides_need_a_reason_and_a_known_lesion_and_timepoint(cohort: Cohort) -> None:
    engine, layout, _ = cohort
    with Session(engine) as s:
        assess_patient(s, EVERYTHING, layout, "A-001")
        with pytest.raises(ValidationError, match="needs a reason"):
            override_category(s, EVERYTHING, "A-001", 1, RECIST, ResponseCategory.STABLE, "  ")
        with pytest.raises(ValidationError, match="baseline"):
            override_category(s, EVERYTHING, "A-001", 0, RECIST, ResponseCategory.STABLE, "x")
        with pytest.raises(ValidationError, match="Choi has none"):
            override_category(s, EVERYTHING, "A-001", 1, CHOI, ResponseCategory.NON_CR_NON_PD, "x")
        with pytest.raises(NotFoundError, match="has no timepoint 7 \\(it has 0, 1, 2\\)"):
            override_category(s, EVERYTHING, "A-001", 7, RECIST, ResponseCategory.STABLE, "x")
        with pytest.raises(NotFoundError, match="has no lesion 9 \\(lesions: 1, 2, 3\\)"):
            override_measurement(s, EVERYTHING, "A-001", 9, 1, MeasurementOverride(5.0), "x")
        with pytest.raises(ValidationError, match="at least one measured value"):
            MeasurementOverride()
        with pytest.raises(ValidationError, match="longest diameter mm must be >= 0"):
            MeasurementOverride(longest_diameter_mm=-1.0)


def test_a_patient_whose_images_cannot_be_read_is_reported_and_left_unwritten(
    cohort: Cohort,
) -> None:
    engine, layout, _ = cohort
    (layout.root / "volumes" / "B-001" / "t1_lesion1.nii").unlink()
    with Session(engine) as s:
        run = assess_cohort(s, EVERYTHING, layout)
        s.commit()
    assert [r.pseudonym for r in run.runs] == ["A-001"]
    assert len(run.problems) == 1
    assert run.problems[0].startswith("B-001, lesion 1 at timepoint 1: ")
    assert "t1_lesion1.nii: no such file" in run.problems[0]
    with Session(engine) as s:
        assert len(s.scalars(select(LesionMeasurement)).all()) == 7  # A-001's only


def test_the_assessment_chooses_the_targets_whatever_the_store_marks(
    cohort: Cohort, tmp_path: Path
) -> None:
    engine, layout, ids = cohort
    with Session(engine) as s:
        alpha = s.get(Center, ids["alpha"])
        assert alpha is not None
        # lesion 2 (10√2 mm) is stored as the only target, lesion 1 (20√2 mm) as a non-target;
        # both are measurable and in different organs, so RECIST 1.1 makes both targets
        patient = add_followup_patient(
            s,
            tmp_path,
            alpha,
            "A-002",
            {1: Spec(LesionOrgan.LIVER), 2: Spec(LesionOrgan.STOMACH, LesionRole.TARGET)},
            [{1: Seen(21), 2: Seen(11)}, {1: Seen(21), 2: Seen(8)}],
        )
        run = assess_patient(s, EVERYTHING, layout, "A-002")
        s.commit()
        roles = s.execute(select(Lesion.number, Lesion.role).filter_by(patient_id=patient.id))
        assert set(roles) == {(1, LesionRole.TARGET), (2, LesionRole.TARGET)}
    recist1 = next(a for a in run.assessments if a.criteria is RECIST)
    # (20 + 10)√2 -> (20 + 7)√2 mm: -10 %: SD (lesion 2 alone would be -30 %: PR)
    assert recist1.category is ResponseCategory.STABLE
    assert recist1.size_change == pytest.approx(-0.1)


def test_linking_stores_a_baseline_lesion_as_non_target(cohort: Cohort, tmp_path: Path) -> None:
    engine, layout, ids = cohort
    with Session(engine) as s:
        alpha = s.get(Center, ids["alpha"])
        assert alpha is not None
        # lesion 1 (20√2 mm, measurable) is stored "new", as by an import that had not seen
        # the baseline CT yet; linking again finds it on the baseline: a non-target until the
        # assessment chooses (then a target); lesion 2, first outlined at follow-up 1, is new
        patient = add_followup_patient(
            s,
            tmp_path,
            alpha,
            "A-003",
            {1: Spec(LesionOrgan.LIVER, LesionRole.NEW), 2: Spec(LesionOrgan.LIVER)},
            [{1: Seen(21)}, {1: Seen(21), 2: Seen(11)}],
        )
        s.expire(patient)
        problems = link_follow_up(s, patient, source_of=lambda seg: seg.path, source="test")
        assert problems == []
        roles = {
            le.number: le.role for le in s.scalars(select(Lesion).filter_by(patient_id=patient.id))
        }
        assert roles == {1: LesionRole.NON_TARGET, 2: LesionRole.NEW}
        assess_patient(s, EVERYTHING, layout, "A-003")
        s.commit()
        roles = {
            le.number: le.role for le in s.scalars(select(Lesion).filter_by(patient_id=patient.id))
        }
        assert roles == {1: LesionRole.TARGET, 2: LesionRole.NEW}


def test_a_reading_before_the_first_assessment_waits_for_it(cohort: Cohort) -> None:
    engine, layout, _ = cohort
    with Session(engine) as s:
        override_measurement(
            s, EVERYTHING, "B-001", 1, 1, MeasurementOverride(longest_diameter_mm=30.0), "re-read"
        )
        s.commit()
    assert _categories(engine) == {}  # no category from the reader's value alone
    with Session(engine) as s:
        assert {le.role for le in s.scalars(select(Lesion))} == {LesionRole.NON_TARGET}
        run = assess_patient(s, EVERYTHING, layout, "B-001")
        s.commit()
    # 20√2 = 28.3 mm at baseline, the reader's 30 mm at timepoint 1: +6 %, +1.7 mm: SD
    recist1 = next(a for a in run.assessments if a.criteria is RECIST)
    assert recist1.category is ResponseCategory.STABLE
    assert recist1.size_change == pytest.approx((30 - 20 * SQRT2) / (20 * SQRT2))


def test_a_readers_outline_of_a_lesion_counts_before_a_programs(
    cohort: Cohort, tmp_path: Path
) -> None:
    """B-001's lesion at visit 1 outlined twice: first by a program (the builder's mask, 14
    voxels: PR) and then by a reader (21 voxels, as at baseline: SD). The reader's counts."""
    engine, layout, _ = cohort
    with Session(engine) as s:
        patient_id = s.scalar(select(Patient.id).where(Patient.pseudonym == "B-001"))
        program = s.scalars(
            select(Segmentation)
            .join(Lesion, Segmentation.lesion_id == Lesion.id)
            .where(Lesion.patient_id == patient_id)
            .order_by(Segmentation.id)
        ).all()[-1]  # visit 1
        program.source = SegmentationSource.IMPORTED_AUTOMATIC
        mask = np.zeros(SHAPE, np.uint8)
        mask[_square(1, 21)] = 1
        path = "volumes/B-001/t1_lesion1_reader.nii"
        s.add(
            Segmentation(
                series_id=program.series_id,
                label="lesion 1",
                source=SegmentationSource.MANUAL,
                path=path,
                sha256=write_canonical(Volume(mask, AFFINE), tmp_path / path),
                lesion_id=program.lesion_id,
            )
        )
        s.commit()
        assess_patient(s, EVERYTHING, layout, "B-001")
        s.commit()
    b = _response(engine, "B-001").assessments.set_index("criteria")
    assert b.loc[RECIST.value, "size_change"] == pytest.approx(0.0)  # 21 voxels, as at baseline
    assert b.loc[RECIST.value, "category"] == "sd"
    # Choi reads the reader's larger outline's mean: the CT is tumour (70 HU) only where the
    # program outlined it, so the density falls
    assert b.loc[CHOI.value, "size_change"] == pytest.approx(0.0)
    with Session(engine) as s:  # and the case view shows the outline that was measured
        shown = case_followup(s, EVERYTHING, "B-001").images[1].mask
    assert shown is not None and shown[0] == path


def test_of_two_unnamed_outlines_the_readers_is_lesion_1(cohort: Cohort, tmp_path: Path) -> None:
    """A CT with a program's unnamed outline beside a reader's: linking takes the reader's as
    lesion 1 (two unnamed outlines of readers would name no lesion)."""
    engine, _, ids = cohort
    with Session(engine) as s:
        alpha = s.get(Center, ids["alpha"])
        assert alpha is not None
        patient = add_followup_patient(
            s, tmp_path, alpha, "A-004", {1: Spec(LesionOrgan.LIVER)}, [{1: Seen(21)}]
        )
        (reader,) = s.scalars(
            select(Segmentation)
            .join(Lesion, Segmentation.lesion_id == Lesion.id)
            .where(Lesion.patient_id == patient.id)
        ).all()
        reader.label, reader.lesion_id = "tumour", None
        s.add(
            Segmentation(
                series_id=reader.series_id,
                label="GIST",
                source=SegmentationSource.IMPORTED_AUTOMATIC,
                path=reader.path,
                sha256=reader.sha256,
            )
        )
        s.flush()
        s.expire(patient)
        assert link_follow_up(s, patient, source_of=lambda seg: seg.path, source="test") == []
        linked = s.execute(
            select(Segmentation.label, Lesion.number)
            .join(Lesion, Segmentation.lesion_id == Lesion.id)
            .where(Lesion.patient_id == patient.id)
        ).all()
    assert [tuple(row) for row in linked] == [("tumour", 1)]
