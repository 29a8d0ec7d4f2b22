"""Image import end to end: the synthetic cohort, re-imports, failures, privacy, WORC, zips."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.ingest import dicom as dicom_module
from gistcad.store import make_engine
from gistcad.store.models import Patient, Segmentation, Series
from gistcad.synth.build import BuildOptions, build_cohort


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "cohort"
    build_cohort(
        BuildOptions(
            out=out,
            patients=12,
            centers=6,
            seed=5,
            matrix=64,
            scan_length_mm=50.0,
            workers=1,
            follow_up=False,  # one CT per patient; the follow-up: test_follow_up_import.py
        )
    )
    return out


def _engine(data_dir: Path) -> Engine:
    return make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")


def _counts(data_dir: Path) -> tuple[int, int, int]:
    with Session(_engine(data_dir)) as s:
        return (
            s.scalar(select(func.count(Patient.id))) or 0,
            s.scalar(select(func.count(Series.id))) or 0,
            s.scalar(select(func.count(Segmentation.id))) or 0,
        )


def _files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.suffix == ".nii"
    }


def test_demo_imports_end_to_end_and_again_as_a_no_op(
    demo: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", "demo", str(demo), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert all(r["ok"] for r in reports)
    assert _counts(data_dir) == (12, 12, 12)  # one CT and one tumour mask per patient
    with Session(_engine(data_dir)) as s:
        series = s.scalars(select(Series)).all()
        for row in series:
            path = data_dir / row.volume_path
            assert path.suffix == ".nii"
            assert hashlib.sha256(path.read_bytes()).hexdigest() == row.volume_sha256
            assert len(row.shape) == 3 and row.shape[0] == 64
        volumes = [s_.volume_ml for s_ in s.scalars(select(Segmentation)).all()]
        assert all(v is not None and v > 0 for v in volumes)
    before = _files(data_dir)
    assert main(["import", "demo", str(demo), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert sum(r["created"] for r in again) == 0 and sum(r["updated"] for r in again) == 0
    assert _counts(data_dir) == (12, 12, 12) and _files(data_dir) == before


def test_no_identifying_string_reaches_the_store(demo: Path, data_dir: Path) -> None:
    assert main(["import", "demo", str(demo)]) == 0
    import pandas as pd

    identities = []
    for table in demo.glob("centers/*/clinical.*"):
        frame = (
            pd.read_excel(table, dtype=str)
            if table.suffix == ".xlsx"
            else pd.read_csv(table, sep=None, engine="python", dtype=str)
        )
        identities += [v for v in frame.iloc[:, 0] if isinstance(v, str)]  # patient ids
    import pydicom

    for ct_dir in demo.glob("centers/*/dicom/*/CT"):
        ds = pydicom.dcmread(next(ct_dir.glob("*.dcm")), stop_before_pixels=True)
        identities += [
            str(ds.PatientName),
            str(ds.PatientBirthDate),
            str(ds.PatientID),
            str(ds.InstitutionName),
            str(ds.ReferringPhysicianName),
        ]
        identities += str(ds.PatientName).split("^")
    identities = [i for i in set(identities) if len(i) >= 4]
    with _engine(data_dir).connect() as conn:
        tables = [
            r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='table'"))
        ]
        dump = " ".join(
            str(v) for t in tables for row in conn.execute(text(f"SELECT * FROM {t}")) for v in row
        )
    leaks = [i for i in identities if i in dump]
    assert not leaks
    canonical = b"".join(p.read_bytes()[:352] for p in data_dir.rglob("*.nii"))
    assert not [i for i in identities if i.encode() in canonical]


def test_failure_mid_import_leaves_database_and_folder_as_they_were(
    demo: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = dicom_module.load_series
    calls = {"n": 0}

    def crash_on_fourth(series):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("power cut")
        return real(series)

    monkeypatch.setattr(dicom_module, "load_series", crash_on_fourth)
    with pytest.raises(RuntimeError, match="power cut"):
        main(["import", "demo", str(demo)])
    assert _counts(data_dir) == (0, 0, 0)
    leftovers = [p for p in data_dir.rglob("*") if p.is_file() and p.name != "gistcad.sqlite"]
    assert [p.name for p in leftovers if p.suffix == ".nii"] == []


def test_mask_with_the_wrong_geometry_is_refused(
    demo: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    center_dir = next(p for p in (demo / "centers").iterdir() if (p / "masks").is_dir())
    center = center_dir.name
    assert main(["import", "dicom", str(center_dir / "dicom"), "--center", center]) == 0
    bad = tmp_path / "masks"
    bad.mkdir()
    for mask in (center_dir / "masks").glob("*.nii.gz"):
        img = nib.load(mask)
        affine = img.affine.copy()
        affine[0, 0] *= 1.5  # another pixel spacing
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), affine), bad / mask.name)
    capsys.readouterr()
    assert main(["import", "masks", str(bad), "--center", center]) == 3
    out = capsys.readouterr().out
    assert "refused" in out and "spacing" in out.lower()
    assert _counts(data_dir)[2] == 0


def test_zip_with_an_escaping_member_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil.dcm", b"x")
    assert main(["import", "dicom", str(archive), "--center", "A", "--json"]) == 3
    (report,) = json.loads(capsys.readouterr().out)
    assert not report["ok"] and "../evil.dcm" in report["problems"][0]["text"]
    assert not (tmp_path / "evil.dcm").exists()


def _nifti(path: Path, data: np.ndarray, spacing: float = 1.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(data, np.diag([spacing, spacing, 2.0, 1.0])), path)


def test_worc_layout_with_two_lesions_and_partial_labels(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    rng = np.random.default_rng(0)
    image = rng.normal(40, 10, (16, 16, 8)).astype(np.int16)
    mask = np.zeros((16, 16, 8), np.uint8)
    mask[4:9, 4:9, 2:5] = 1
    _nifti(root / "GIST-001" / "image.nii.gz", image)
    _nifti(root / "GIST-001" / "segmentation.nii.gz", mask)
    for lesion in (0, 1):
        _nifti(root / "GIST-018" / f"image_lesion_{lesion}.nii.gz", image + 1 + lesion)
        _nifti(root / "GIST-018" / f"segmentation_lesion_{lesion}.nii.gz", mask)
    _nifti(root / "GIST-020" / "image.nii.gz", image + 7)
    _nifti(root / "GIST-020" / "segmentation.nii.gz", mask)
    labels = tmp_path / "pinfo.csv"
    labels.write_text(
        "Patient,GIST,MI_adjusted,KIT_mutation,KIT_exon11\n"
        "GIST-001,1,2,1,1\nGIST-018,1,,2,2\nGIST-020,0,1,0,0\n"
    )
    args = ["import", "nifti", str(root), "--layout", "worc", "--labels", str(labels)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["created"] == 3 and report["skipped"] == ["GIST-020: not a GIST (label 0)"]
    assert _counts(data_dir) == (2, 3, 3)
    with Session(_engine(data_dir)) as s:
        labels_seen = sorted(s.scalars(select(Segmentation.label)).all())
    assert labels_seen == ["lesion 1", "lesion lesion_0", "lesion lesion_1"]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["unchanged"] == 3


def test_an_outline_without_any_voxel_is_stored_and_said_so(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An empty segmentation (a contour finer than the voxels, or an empty export) is kept
    with its series, and the report names its file and what follows: radiomics and the deep
    model leave the patient out."""
    root = tmp_path / "worc"
    image = np.full((8, 8, 4), 40, np.int16)
    outlined = np.zeros((8, 8, 4), np.uint8)
    outlined[2:5, 2:5, 1:3] = 1
    _nifti(root / "GIST-001" / "image.nii.gz", image)
    _nifti(root / "GIST-001" / "segmentation.nii.gz", np.zeros((8, 8, 4), np.uint8))
    _nifti(root / "GIST-002" / "image.nii.gz", image + 1)
    _nifti(root / "GIST-002" / "segmentation.nii.gz", outlined)
    assert main(["import", "nifti", str(root), "--layout", "worc", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)[0]
    assert report["created"] == 2 and _counts(data_dir) == (2, 2, 2)
    (note,) = [n for n in report["notes"] if "covers no voxel" in n]
    assert note.startswith(str(root / "GIST-001" / "segmentation.nii.gz") + ": the outline")
    assert "radiomics and the deep model leave this patient out" in note
    assert "GIST-002" not in " ".join(report["notes"])


def test_worc_same_file_for_two_subjects_is_refused(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    mask = np.zeros((4, 4, 4), np.uint8)
    mask[1:3, 1:3, 1:3] = 1
    for subject in ("GIST-003", "GIST-004"):
        _nifti(root / subject / "image.nii.gz", np.ones((4, 4, 4), np.int16))
        _nifti(root / subject / "segmentation.nii.gz", mask)
    assert main(["import", "nifti", str(root), "--layout", "worc"]) == 3
    assert "already stored for another subject" in capsys.readouterr().out
    assert _counts(data_dir) == (0, 0, 0)


def test_worc_unpaired_file_is_reported(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "worc"
    _nifti(root / "GIST-002" / "image.nii.gz", np.zeros((4, 4, 4), np.int16))
    assert main(["import", "nifti", str(root), "--layout", "worc"]) == 3
    assert "pairs with nothing" in capsys.readouterr().out
