"""``gistcad import dicom`` on faulty exports: refused with file, tag and what to do, or scrubbed.

Every case writes real DICOM files (pydicom, highdicom) into ``tmp_path`` with the builders of
:mod:`tests.imaging.conftest`, runs the command, and checks its exit status, its report and the
store: a refused import writes nothing, and no patient name reaches a stored mask label.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pydicom
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest import dicom as dicom_module
from gistcad.store import make_engine
from gistcad.store.models import Patient, Segmentation, Series
from tests.imaging.conftest import (
    BuiltSeries,
    build_ct_series,
    circle,
    disk_mask,
    write_rtstruct,
    write_seg,
)

EXIT_REFUSED = 3
OTHER_PATIENT = {"PatientID": "PID-11223", "PatientName": "OTHER^PAT"}


def _import(folder: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    """Run ``gistcad import dicom FOLDER --center T --json``: (exit status, the one report)."""
    capsys.readouterr()
    status = main(["import", "dicom", str(folder), "--center", "T", "--json", *extra])
    (report,) = json.loads(capsys.readouterr().out)
    return status, report


def _counts(env: dict[str, str]) -> tuple[int, int, int]:
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        return (
            s.scalar(select(func.count(Patient.id))) or 0,
            s.scalar(select(func.count(Series.id))) or 0,
            s.scalar(select(func.count(Segmentation.id))) or 0,
        )


def _labels(env: dict[str, str]) -> list[str]:
    with Session(make_engine(env["GISTCAD_DB_URL"])) as s:
        return sorted(s.scalars(select(Segmentation.label)).all())


def _rewrite(path: Path, change: Callable[[pydicom.Dataset], None]) -> None:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)


def _files_of(built: BuiltSeries) -> set[str]:
    return {str(p) for p in built.paths}


def _tagged(report: Any, tag: str) -> list[dict[str, str]]:
    return [p for p in report["problems"] if p.get("tag") == tag]


# --- 1. mask labels are scrubbed like SeriesDescription ---------------------------------------


def _rtstruct_named_after_the_ct_patient(folder: Path) -> str:
    built = build_ct_series(folder / "ct", columns=16, rows=12, phi={"PatientName": "Jansen^Piet"})
    write_rtstruct(built, {2: [circle((7.5, 5.5), 3.0)]}, folder / "rs.dcm", roi_name="GIST Jansen")
    return "ROI 7"


def _rtstruct_named_after_its_own_operator(folder: Path) -> str:
    built = build_ct_series(folder / "ct", columns=16, rows=12)
    write_rtstruct(
        built,
        {2: [circle((7.5, 5.5), 3.0)]},
        folder / "rs.dcm",
        roi_name="GIST Bakker",
        header={"OperatorsName": "Bakker^Anna"},
    )
    return "ROI 7"


def _seg_named_after_the_ct_patient(folder: Path) -> str:
    built = build_ct_series(folder / "ct", columns=16, rows=12, phi={"PatientName": "Jansen^Piet"})
    write_seg(built, disk_mask(6, 12, 16, radius=3), folder / "seg.dcm", label="Piet tumour")
    return "segment 1"


@pytest.mark.parametrize(
    ("write", "name"),
    [
        (_rtstruct_named_after_the_ct_patient, "Jansen"),
        (_rtstruct_named_after_its_own_operator, "Bakker"),
        (_seg_named_after_the_ct_patient, "Piet"),
    ],
)
def test_a_mask_label_holding_a_name_is_not_stored(
    write: Callable[[Path], str],
    name: str,
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stored_as = write(tmp_path / "export")
    status, report = _import(tmp_path / "export", capsys)
    assert status == 0, report["problems"]
    assert _labels(cli_env) == [stored_as]
    (note,) = [n for n in report["notes"] if "identifying text" in n]
    assert f"stored as {stored_as!r}" in note
    assert name.lower() not in json.dumps(report).lower()


# --- 2. a malformed RTSTRUCT is a problem of the report, not a traceback ----------------------


def _contour_data_not_in_triples(ds: pydicom.Dataset) -> None:
    contour = ds.ROIContourSequence[0].ContourSequence[0]
    contour.ContourData = list(contour.ContourData)[:-1]


def _no_referenced_roi_number(ds: pydicom.Dataset) -> None:
    del ds.ROIContourSequence[0].ReferencedROINumber


def _no_contour_data(ds: pydicom.Dataset) -> None:
    del ds.ROIContourSequence[0].ContourSequence[0].ContourData


def _no_roi_number(ds: pydicom.Dataset) -> None:
    del ds.StructureSetROISequence[0].ROINumber


@pytest.mark.parametrize(
    ("damage", "tag", "says"),
    [
        (_contour_data_not_in_triples, "ContourData (3006,0050)", "not a multiple of 3"),
        (_no_referenced_roi_number, "ReferencedROINumber (3006,0084)", "no ReferencedROINumber"),
        (_no_contour_data, "ContourData (3006,0050)", "no ContourData"),
        (_no_roi_number, "ROINumber (3006,0022)", "no ROINumber"),
    ],
)
def test_a_malformed_rtstruct_is_refused_with_its_file_and_tag(
    damage: Callable[[pydicom.Dataset], None],
    tag: str,
    says: str,
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = build_ct_series(tmp_path / "ct", columns=16, rows=12)
    rtstruct = tmp_path / "rs.dcm"
    write_rtstruct(built, {k: [circle((7.5, 5.5), 3.0)] for k in (2, 3)}, rtstruct)
    _rewrite(rtstruct, damage)
    for extra in (("--dry-run",), ()):
        status, report = _import(tmp_path, capsys, *extra)
        assert status == EXIT_REFUSED
        (problem,) = _tagged(report, tag)
        assert problem["source"] == str(rtstruct)
        assert says in problem["message"] and "Export the RTSTRUCT again" in problem["message"]
    assert _counts(cli_env) == (0, 0, 0)


def test_a_contour_image_reference_without_its_uid_does_not_stop_the_scan(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The references only pair the RTSTRUCT with its series; the series UID still does."""
    built = build_ct_series(tmp_path / "ct", columns=16, rows=12)
    rtstruct = tmp_path / "rs.dcm"
    write_rtstruct(built, {2: [circle((7.5, 5.5), 3.0)]}, rtstruct)

    def drop_uid(ds: pydicom.Dataset) -> None:
        study = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
        del study.RTReferencedSeriesSequence[0].ContourImageSequence[0].ReferencedSOPInstanceUID

    _rewrite(rtstruct, drop_uid)
    status, report = _import(tmp_path, capsys)
    assert status == 0, report["problems"]
    assert _counts(cli_env) == (1, 1, 1)


# --- 3. one series, one patient -----------------------------------------------------------------


def test_a_series_mixing_patient_ids_is_refused(
    cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = build_ct_series(tmp_path / "ct", slices=6)

    def another_patient(ds: pydicom.Dataset) -> None:
        ds.PatientID, ds.PatientName = OTHER_PATIENT["PatientID"], OTHER_PATIENT["PatientName"]

    for path in built.paths[4:]:
        _rewrite(path, another_patient)
    status, report = _import(tmp_path, capsys)
    assert status == EXIT_REFUSED
    (problem,) = _tagged(report, "PatientID (0010,0020)")
    assert problem["source"] in {str(p) for p in built.paths[:4]}  # the larger group's
    assert any(str(p) in problem["message"] for p in built.paths[4:])
    assert "2 different PatientIDs" in problem["message"]
    text = json.dumps(report)
    assert OTHER_PATIENT["PatientID"] not in text and "PID-98765" not in text
    assert _counts(cli_env) == (0, 0, 0)


# --- 4. one study, one patient ------------------------------------------------------------------


def test_a_study_shared_by_two_patients_in_one_export_is_refused_before_any_write(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = build_ct_series(tmp_path / "a", seed=1)
    second = build_ct_series(tmp_path / "b", seed=2, study_uid=first.study_uid, phi=OTHER_PATIENT)
    broken = tmp_path / "rs.dcm"  # another problem, reported together with the study's
    write_rtstruct(first, {2: [circle((3.5, 3.5), 2.0)]}, broken)
    _rewrite(broken, _no_referenced_roi_number)

    def no_conversion(*args: object) -> None:
        raise AssertionError("a volume was converted before validation ended")

    monkeypatch.setattr(dicom_module, "load_series", no_conversion)
    status, report = _import(tmp_path, capsys)
    assert status == EXIT_REFUSED
    (problem,) = _tagged(report, "StudyInstanceUID (0020,000D)")
    assert problem["source"] in _files_of(first)
    assert any(path in problem["message"] for path in _files_of(second))
    assert "StudyInstanceUID" in problem["message"] and "re-export" in problem["message"]
    assert _tagged(report, "ReferencedROINumber (3006,0084)")
    assert _counts(cli_env) == (0, 0, 0)


def test_a_study_already_stored_for_another_patient_is_refused_before_any_write(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = build_ct_series(tmp_path / "first", seed=1)
    assert _import(tmp_path / "first", capsys)[0] == 0
    build_ct_series(tmp_path / "second", seed=2, study_uid=first.study_uid, phi=OTHER_PATIENT)

    def no_conversion(*args: object) -> None:
        raise AssertionError("a volume was converted before validation ended")

    monkeypatch.setattr(dicom_module, "load_series", no_conversion)
    for extra in (("--dry-run",), ()):
        status, report = _import(tmp_path / "second", capsys, *extra)
        assert status == EXIT_REFUSED
        (problem,) = _tagged(report, "StudyInstanceUID (0020,000D)")
        assert problem["source"].startswith(str(tmp_path / "second"))
        assert "already stored for another patient" in problem["message"]
    assert _counts(cli_env) == (1, 1, 0)


def test_a_study_stored_for_another_patient_after_validation_is_still_refused(
    cli_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a concurrent import may store the study between validation and the write: the store's
    # own check refuses it then, with the same problem, and the transaction is rolled back
    first = build_ct_series(tmp_path / "first", seed=1)
    assert _import(tmp_path / "first", capsys)[0] == 0
    build_ct_series(tmp_path / "second", seed=2, study_uid=first.study_uid, phi=OTHER_PATIENT)
    monkeypatch.setattr(dicom_module, "stored_study_problems", lambda *args: [])
    status, report = _import(tmp_path / "second", capsys)
    assert status == EXIT_REFUSED
    (problem,) = _tagged(report, "StudyInstanceUID (0020,000D)")
    assert "already stored for another patient" in problem["message"]
    assert _counts(cli_env) == (1, 1, 0)
