"""NIfTI import faults: damaged image files and WORC label files that must be refused.

Each refusal names the file (and for the label file the row, column and value) and what to
do, exits with the importer's refused status (3) and leaves the store and the data folder as
they were. The label codes follow ``../shared/reference/worc_layout.md``: 1 = yes, 0 = no,
2 or blank = unknown; a subject labelled 0 (not a GIST) is skipped and listed, as the README
says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.domain import GenotypeDetail
from gistcad.store import make_engine
from gistcad.store.models import Patient, Segmentation, Series, Tumour

REFUSED = 3
SHAPE = (24, 24, 12)


def _engine(data_dir: Path) -> Engine:
    return make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")


def _nothing_written(data_dir: Path) -> bool:
    with Session(_engine(data_dir)) as s:
        rows = [s.scalar(select(func.count(model.id))) for model in (Patient, Series, Segmentation)]
    volumes = [p for p in data_dir.rglob("*.nii*") if p.is_file()]
    return rows == [0, 0, 0] and not volumes


def _nifti(path: Path, data: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.5, 1.0])), path)
    return path


def _subject(root: Path, name: str, seed: int, suffix: str = ".nii.gz") -> tuple[Path, Path]:
    """One WORC subject: a CT of noise around 40 HU and a speckled mask (which compresses
    little, so that a file cut short keeps its header and loses voxels)."""
    rng = np.random.default_rng(seed)
    image = rng.normal(40, 10, SHAPE).astype(np.int16)
    mask = (rng.random(SHAPE) < 0.3).astype(np.uint8)
    return (
        _nifti(root / name / f"image{suffix}", image),
        _nifti(root / name / f"segmentation{suffix}", mask),
    )


def _truncate(path: Path) -> None:
    """Cut the file after its header and part of its voxels, as an interrupted copy does."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])


def _run(capsys: pytest.CaptureFixture[str], root: Path, *extra: str) -> tuple[int, Any]:
    status = main(["import", "nifti", str(root), "--layout", "worc", *extra, "--json"])
    return status, json.loads(capsys.readouterr().out)[0]


def _texts(report: dict[str, Any]) -> list[str]:
    return [p["text"] for p in report["problems"]]


def _tumours(data_dir: Path) -> dict[str, tuple[GenotypeDetail, str | None]]:
    """Per subject (in import order), the stored genotype and its text."""
    with Session(_engine(data_dir)) as s:
        rows = s.execute(
            select(Patient.id, Tumour.genotype_detail, Tumour.genotype_text)
            .join(Tumour, Tumour.patient_id == Patient.id)
            .order_by(Patient.id)
        ).all()
    return {str(pid): (detail, text) for pid, detail, text in rows}


# --- damaged image files --------------------------------------------------------------------


def test_truncated_images_and_masks_are_refused_by_name_and_nothing_is_written(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    image, _ = _subject(root, "GIST-003", 3)
    _, mask = _subject(root, "GIST-004", 4)
    raw_image, _ = _subject(root, "GIST-005", 5, suffix=".nii")
    for path in (image, mask, raw_image):
        _truncate(path)
    status, report = _run(capsys, root)
    assert status == REFUSED and not report["ok"]
    texts = _texts(report)
    assert len(texts) == 3
    for path, text in zip((image, mask, raw_image), texts, strict=True):
        assert text.startswith(f"{path}: the file is damaged or incomplete")
        assert text.endswith("copy it again from the source")
    assert _nothing_written(data_dir)


def test_a_truncated_image_is_refused_in_the_plain_report_too(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    image, _ = _subject(root, "GIST-003", 3)
    _truncate(image)
    assert main(["import", "nifti", str(root), "--layout", "worc"]) == REFUSED
    out = capsys.readouterr().out
    assert "refused: 1 problem(s); nothing was written" in out
    assert f"{image}: the file is damaged or incomplete" in out
    assert _nothing_written(data_dir)


def test_a_truncated_mask_for_a_stored_series_is_refused_by_name(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    assert main(["import", "nifti", str(root), "--layout", "worc", "--center", "Lyon"]) == 0
    capsys.readouterr()
    mask = (np.random.default_rng(9).random(SHAPE) < 0.3).astype(np.uint8)
    damaged = _nifti(tmp_path / "masks" / "GIST-001.nii.gz", mask)
    _truncate(damaged)
    assert main(["import", "masks", str(damaged.parent), "--center", "Lyon", "--json"]) == 3
    (text,) = _texts(json.loads(capsys.readouterr().out)[0])
    assert text.startswith(f"{damaged}: the file is damaged or incomplete")
    with Session(_engine(data_dir)) as s:
        assert s.scalar(select(func.count(Segmentation.id))) == 1  # the WORC mask only


# --- the label file: reading it -------------------------------------------------------------


def test_labels_in_latin1_with_semicolons_are_read_like_a_clinical_sheet(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    _subject(root, "GIST-002", 2)
    labels = tmp_path / "pinfo.csv"
    labels.write_bytes(
        "Patient;GIST;KIT_mutation;KIT_exon11;Location_main\n"
        "GIST-001;1;1;1;estómago\nGIST-002;1;1;0;intestino delgado\n".encode("latin-1")
    )
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == 0, _texts(report)
    assert report["created"] == 2
    assert list(_tumours(data_dir).values()) == [
        (GenotypeDetail.KIT11_UNSPECIFIED, "KIT mutation: yes; KIT exon 11: yes (WORC labels)"),
        (GenotypeDetail.UNKNOWN, "KIT mutation: yes; KIT exon 11: no (WORC labels)"),
    ]


def test_a_missing_label_file_is_refused_with_the_images_checked(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    image, _ = _subject(root, "GIST-003", 3)
    _truncate(image)
    missing = tmp_path / "pinfo_GIST.csv"
    status, report = _run(capsys, root, "--labels", str(missing))
    assert status == REFUSED
    texts = _texts(report)
    assert texts[0] == f"{missing}: no such file; check the path of the label file"
    assert texts[1].startswith(f"{image}: the file is damaged or incomplete")
    assert _nothing_written(data_dir)


def test_a_label_file_without_a_patient_column_says_which_columns_it_has(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    labels = tmp_path / "pinfo.csv"
    labels.write_text("Subject,GIST\nGIST-001,1\n")
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == REFUSED
    (problem,) = report["problems"]
    assert problem["column"] == "Patient"
    assert "the columns are 'Subject', 'GIST'" in problem["text"]
    assert _nothing_written(data_dir)


# --- the label file: its values -------------------------------------------------------------


def test_words_and_other_codes_are_refused_naming_row_column_value(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The review's case: ``GIST=no`` was imported as a GIST and ``KIT_exon11=yes`` stored as
    "KIT exon 11: no"; the file must use the codes."""
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    _subject(root, "GIST-002", 2)
    labels = tmp_path / "pinfo.csv"
    labels.write_text(
        "Patient,GIST,KIT_mutation,KIT_exon11\nGIST-001,no,1,0\nGIST-002,1,1.0,yes\nGIST-003,3,,\n"
    )
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == REFUSED
    found = [(p["row"], p["column"], p["value"]) for p in report["problems"]]
    assert found == [
        (2, "GIST", "no"),
        (3, "KIT_mutation", "1.0"),
        (3, "KIT_exon11", "yes"),
        (4, "GIST", "3"),
    ]
    first = report["problems"][0]["text"]
    assert first.startswith(f"{labels}, row 2, column 'GIST': ")
    assert "1 (yes), 0 (no), 2 or blank (unknown)" in first
    assert _nothing_written(data_dir)


def test_contradicting_and_repeated_label_rows_are_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    labels = tmp_path / "pinfo.csv"
    labels.write_text(
        "Patient,GIST,KIT_mutation,KIT_exon11\nGIST-001,1,0,1\n\nGIST-001,1,1,1\n,1,1,1\n"
    )
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == REFUSED
    texts = _texts(report)
    assert len(texts) == 3
    assert texts[0].startswith(f"{labels}, row 2, column 'KIT_exon11': ")
    assert "KIT_mutation is 0 (no KIT mutation)" in texts[0]
    assert texts[1] == (
        f"{labels}, row 4, column 'Patient': this subject has a label row already (row 2); "
        "keep one (value 'GIST-001')"
    )
    assert texts[2].startswith(f"{labels}, row 5, column 'Patient': empty")
    assert _nothing_written(data_dir)


def test_codes_are_stored_as_they_read_and_non_gist_subjects_are_skipped(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """1 = yes, 0 = no, 2 or blank = unknown; GIST (or pinfo's Diagnosis) 0 = another tumour:
    skipped and listed (the README's documented behaviour), 2 or blank = imported."""
    root = tmp_path / "worc"
    for seed, subject in enumerate(("GIST-001", "GIST-002", "GIST-003", "GIST-004", "GIST-005")):
        _subject(root, subject, seed)
    labels = tmp_path / "pinfo.csv"
    labels.write_text(
        "Patient,GIST,KIT_mutation,KIT_exon11\n"
        "GIST-001,1,1,1\n"
        "GIST-002,0,0,0\n"
        "GIST-003,2,0,\n"
        "GIST-004, 1 ,2,2\n"
        "GIST-099,1,1,1\n"
    )
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == 0, _texts(report)
    assert report["skipped"] == ["GIST-002: not a GIST (label 0)"]
    assert report["created"] == 4
    assert any("GIST-099" in note and "no subject folder" in note for note in report["notes"])
    assert list(_tumours(data_dir).values()) == [
        (GenotypeDetail.KIT11_UNSPECIFIED, "KIT mutation: yes; KIT exon 11: yes (WORC labels)"),
        (GenotypeDetail.UNKNOWN, "KIT mutation: no (WORC labels)"),
    ]


def test_the_pinfo_diagnosis_column_marks_other_tumours(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _subject(root, "GIST-001", 1)
    _subject(root, "GIST-002", 2)
    labels = tmp_path / "pinfo_GIST.csv"
    labels.write_text("Patient,Diagnosis\nGIST-001,1\nGIST-002,0\n")
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == 0, _texts(report)
    assert report["created"] == 1 and report["skipped"] == ["GIST-002: not a GIST (label 0)"]
    labels.write_text("Patient,Diagnosis\nGIST-001,GIST\nGIST-002,0\n")
    status, report = _run(capsys, root, "--labels", str(labels))
    assert status == REFUSED
    assert [(p["row"], p["column"], p["value"]) for p in report["problems"]] == [
        (2, "Diagnosis", "GIST")
    ]
