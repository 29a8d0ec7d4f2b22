"""PACS round trip against a real Orthanc: find, pull through the importer (pseudonymised),
push the segmentation (SEG) and results (SR) back, fetch them and check references and values;
and the bad inputs: a PACS that does not answer, a study with no CT, an upload that is not
DICOM."""

from __future__ import annotations

import io
import re
import shutil
import zipfile
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.uid import generate_uid
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.errors import ValidationError
from gistcad.ingest import upload
from gistcad.ingest.upload import UploadedFile, import_upload
from gistcad.store import AccessScope, make_engine
from gistcad.store.models import AuditEvent, Base, Patient, Segmentation, Series
from tests.factories import add_validated_model
from tests.pacs.conftest import CENTER, Pacs, _free_port


def _engine(env: dict[str, str]) -> Engine:
    return make_engine(env["GISTCAD_DB_URL"])


def _counts(env: dict[str, str]) -> tuple[int, int, int]:
    with Session(_engine(env)) as s:
        return (
            s.scalar(select(func.count(Patient.id))) or 0,
            s.scalar(select(func.count(Series.id))) or 0,
            s.scalar(select(func.count(Segmentation.id))) or 0,
        )


def _everything_stored(env: dict[str, str]) -> str:
    with Session(_engine(env)) as s:
        return "\n".join(
            repr(row) for table in Base.metadata.sorted_tables for row in s.execute(table.select())
        )


def _study_uid(pacs: Pacs) -> str:
    return str(pydicom.dcmread(pacs.ct_files[0], stop_before_pixels=True).StudyInstanceUID)


def test_pull_then_push_round_trip(
    pacs: Pacs, cli_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ct = [pydicom.dcmread(f) for f in pacs.ct_files]
    first = ct[0]
    study = str(first.StudyInstanceUID)

    assert main(["pacs", "find", "--url", pacs.url, "--patient-id", pacs.hospital_id]) == 0
    listing = capsys.readouterr().out
    line = next(x for x in listing.splitlines() if study in x)
    assert f" {len(ct)} " in line and "CT" in line and pacs.hospital_id in line
    assert main(["pacs", "find", "--url", pacs.url, "--patient-id", "NOBODY"]) == 0
    assert "no study found" in capsys.readouterr().out

    pull = ["pacs", "pull", "--url", pacs.url, "--study", study, "--center", CENTER]
    assert main([*pull, "--dry-run"]) == 0
    assert "would import" in capsys.readouterr().out
    assert _counts(cli_env) == (0, 0, 0)
    assert main(pull) == 0
    assert "1 new" in capsys.readouterr().out
    assert _counts(cli_env) == (1, 1, 0)
    with Session(_engine(cli_env)) as s:
        patient = s.scalars(select(Patient)).one()
        series = s.scalars(select(Series)).one()
        pseudonym = patient.pseudonym
        assert series.series_instance_uid == first.SeriesInstanceUID
        assert series.shape == [first.Columns, first.Rows, len(ct)]
    stored = _everything_stored(cli_env)
    for identifying in (first.PatientID, str(first.PatientName), first.PatientBirthDate):
        assert identifying and identifying not in stored

    masks = tmp_path / "masks"
    masks.mkdir()
    shutil.copy(pacs.mask, masks)
    assert main(["import", "masks", str(masks), "--center", CENTER]) == 0
    assert _counts(cli_env) == (1, 1, 1)

    with Session(_engine(cli_env)) as s:
        patient_id = s.scalars(select(Patient.id)).one()
        add_validated_model(s, "KIT11 clinical", {patient_id: 0.73}, {}, None)
        s.commit()
    capsys.readouterr()
    assert main(["pacs", "push", "--url", pacs.url, pseudonym]) == 0
    out = capsys.readouterr().out
    assert "sent a DICOM SEG of the outline" in out and "(Manual (imported))" in out
    assert "passed over" not in out
    with Session(_engine(cli_env)) as s:
        events = [(e.action, e.target) for e in s.scalars(select(AuditEvent))]
    assert ("export", pseudonym) in events
    imports = [target for action, target in events if action == "import"]
    assert len(imports) == 2 and all(t.startswith("hmac:") for t in imports)  # pull + masks
    dead = f"http://127.0.0.1:{_free_port()}/dicom-web"
    assert main(["pacs", "push", "--url", dead, pseudonym]) == 2
    assert "does not answer" in capsys.readouterr().err

    client = DICOMwebClient(url=pacs.url)
    found = {
        s["00080060"]["Value"][0]: s["0020000E"]["Value"][0]
        for s in client.search_for_series(study_instance_uid=study)
    }
    assert set(found) == {"CT", "SEG", "SR"}
    (seg_ds,) = client.retrieve_series(study, found["SEG"])
    (sr_ds,) = client.retrieve_series(study, found["SR"])

    # the SEG: in the CT's study, for its patient, referring to its series and instances
    ct_uids = {d.SOPInstanceUID for d in ct}
    assert seg_ds.StudyInstanceUID == study and seg_ds.PatientID == first.PatientID
    assert [r.SeriesInstanceUID for r in seg_ds.ReferencedSeriesSequence] == [
        first.SeriesInstanceUID
    ]
    referenced = {
        i.ReferencedSOPInstanceUID
        for i in seg_ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced and referenced <= ct_uids
    assert seg_ds.FrameOfReferenceUID == first.FrameOfReferenceUID

    # its pixels: the generator's mask, counted by hand (SEG and CT share the grid)
    seg = hd.seg.Segmentation.from_dataset(seg_ds)
    order = sorted(ct, key=lambda d: float(d.ImagePositionPatient[2]))
    pixels = np.asarray(
        seg.get_pixels_by_source_instance(
            source_sop_instance_uids=[d.SOPInstanceUID for d in order],
            segment_numbers=[1],
            ignore_spatial_locations=True,
        )
    )[..., 0].astype(bool)
    truth = nib.load(pacs.mask)
    truth_voxels = int((np.asarray(truth.dataobj) > 0).sum())
    assert int(pixels.sum()) == truth_voxels > 0
    voxel_ml = float(np.prod(truth.header.get_zooms()[:3])) / 1000.0
    hu = np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in order]
    )
    mean_hu = float(hu[pixels].mean())

    # the SR: TID 1500, referring to the SEG, with the hand-computed values
    assert sr_ds.StudyInstanceUID == study and "research use only" in sr_ds.SeriesDescription
    evidence = {
        item.SeriesInstanceUID: {i.ReferencedSOPInstanceUID for i in item.ReferencedSOPSequence}
        for study_item in sr_ds.CurrentRequestedProcedureEvidenceSequence
        for item in study_item.ReferencedSeriesSequence
    }
    assert evidence[found["SEG"]] == {seg_ds.SOPInstanceUID}
    assert evidence[first.SeriesInstanceUID] <= ct_uids
    sr = hd.sr.Comprehensive3DSR.from_dataset(sr_ds)
    (group,) = sr.content.get_volumetric_roi_measurement_groups()
    assert group.referenced_segment.referenced_sop_instance_uid == seg_ds.SOPInstanceUID
    values = {m.name.meaning: float(m.value) for m in group.get_measurements()}
    units = {m.name.meaning: m.unit.value for m in group.get_measurements()}
    assert values["Volume"] == pytest.approx(truth_voxels * voxel_ml, rel=1e-3)
    assert units["Volume"] == "ml" and units["Long axis"] == "mm"
    assert values["Attenuation Coefficient"] == pytest.approx(mean_hu, abs=0.05)
    # longest axial diameter: at least the widest row's span (voxel centres), at most the
    # diagonal of the in-plane bounding box (voxel edges)
    spacing = [float(v) for v in first.PixelSpacing]
    widest = max(
        float(np.ptp(np.flatnonzero(row))) * spacing[1] for sl in pixels for row in sl if row.any()
    )
    rows_, cols_ = np.nonzero(pixels.any(axis=0))
    box = np.hypot((np.ptp(rows_) + 1) * spacing[0], (np.ptp(cols_) + 1) * spacing[1])
    assert widest > 0 and widest - 1e-6 <= values["Long axis"] <= box + 1e-6
    evaluations = {e.name.meaning: e.value.meaning for e in group.get_qualitative_evaluations()}
    assert evaluations["Intended use"] == "Research use only"
    assert evaluations["Predicted genotype class"] == "KIT exon 11"
    assert values["Probability of the predicted class"] == pytest.approx(0.73)
    (probability,) = [
        m for m in group.get_measurements() if m.name.meaning.startswith("Probability")
    ]
    modifiers = {
        item.ConceptNameCodeSequence[0].CodeMeaning: item.TextValue
        for item in probability[0].ContentSequence
        if item.RelationshipType == "HAS CONCEPT MOD"
    }
    assert modifiers["Algorithm Name"] == "KIT11 clinical"
    # the model's registration date and which of its predictions, not a database row id
    version = r"registered \d{4}-\d{2}-\d{2}, (final|final, training unknown|out-of-fold)"
    assert re.fullmatch(version, modifiers["Algorithm Version"])

    # a second pull of the study (which now holds the SEG and SR) changes nothing
    assert main(["pacs", "pull", "--url", pacs.url, "--study", study, "--center", CENTER]) == 0
    assert _counts(cli_env) == (1, 1, 1)


def test_pacs_not_answering(cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{_free_port()}/dicom-web"
    for argv in (
        ["pacs", "find", "--url", url],
        ["pacs", "pull", "--url", url, "--study", "1.2.3", "--center", CENTER],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "does not answer" in err[0] and url in err[0]
    assert _counts(cli_env) == (0, 0, 0)


def test_study_without_ct(
    pacs: Pacs, cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ds = pydicom.dcmread(pacs.ct_files[0])
    ds.Modality = "MR"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    buffer = io.BytesIO()
    ds.save_as(buffer)
    requests.post(f"{pacs.rest}/instances", data=buffer.getvalue(), timeout=30).raise_for_status()
    argv = ["pacs", "pull", "--url", pacs.url, "--study", ds.StudyInstanceUID, "--center", CENTER]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no CT series" in err[0] and "MR" in err[0]
    assert main(["pacs", "pull", "--url", pacs.url, "--study", "1.2.3.4", "--center", CENTER]) == 2
    assert "has no study 1.2.3.4" in capsys.readouterr().err
    assert _counts(cli_env) == (0, 0, 0)


def test_upload(pacs: Pacs, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(cli_env)
    data_dir = Path(cli_env["GISTCAD_DATA_DIR"])
    scope = AccessScope.everything(user="uploader")
    bad = [UploadedFile("notes.txt", b"not an image"), UploadedFile("a.dcm", b"\0" * 200)]
    with pytest.raises(ValidationError, match=r"not DICOM: notes\.txt, a\.dcm"):
        import_upload(engine, data_dir, scope, bad, center=CENTER)
    with pytest.raises(ValidationError, match="not a readable zip"):
        import_upload(
            engine, data_dir, scope, [UploadedFile("x.zip", b"PK\3\4junk")], center=CENTER
        )
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../outside.dcm", pacs.ct_files[0].read_bytes())
    (refused,) = import_upload(
        engine, data_dir, scope, [UploadedFile("evil.zip", evil.getvalue())], center=CENTER
    )
    assert not refused.ok and "outside" in str(refused.problems[0])
    with monkeypatch.context() as patched, pytest.raises(ValidationError, match="over the limit"):
        patched.setattr(upload, "MAX_UPLOAD_BYTES", 1000)
        big = [UploadedFile("big.dcm", bytes(2000))]
        import_upload(engine, data_dir, scope, big, center=CENTER)
    assert _counts(cli_env) == (0, 0, 0)

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for file in pacs.ct_files:
            z.write(file, f"export/{file.name}")
    ticks: list[int] = []
    (report,) = import_upload(
        engine,
        data_dir,
        scope,
        [UploadedFile("export.zip", archive.getvalue())],
        center=CENTER,
        progress=ticks.append,
    )
    assert report.ok and report.created == 1 and ticks == [1]
    assert _counts(cli_env) == (1, 1, 0)
    # the same files one by one: the same series, already stored
    files = [UploadedFile(f.name, f.read_bytes()) for f in pacs.ct_files]
    (again,) = import_upload(engine, data_dir, scope, files, center=CENTER)
    assert again.ok and again.created == 0
    assert _counts(cli_env) == (1, 1, 0)
