"""Import DICOM: CT series and their SEG/RTSTRUCT masks, de-identified, all or nothing.

Steps: unpack a zip safely; scan every file (headers only); refuse the import if any CT series
or mask is broken (all problems listed, with file and tag); convert each new series once to a
canonical NIfTI in the data folder (staged, published only with the database rows); store the
series' geometry and non-identifying acquisition details under the patient's pseudonym.
Re-importing a series that is already stored is a no-op.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from gistcad.domain import REFERENCE_OUTLINES, SEGMENTATION_SOURCE_LABELS, SegmentationSource
from gistcad.errors import ValidationError
from gistcad.imaging import (
    DicomSeries,
    LabelMask,
    Volume,
    load_series,
    read_masks,
    safe_extract,
    scan_dicom,
    write_canonical,
)
from gistcad.imaging.errors import ArchiveError
from gistcad.imaging.nifti_io import canonical_sha256
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.ingest.report import ImportReport
from gistcad.ingest.staging import FileStage, unpack_folder
from gistcad.layout import DataLayout
from gistcad.problems import Problem
from gistcad.store.engine import import_lock
from gistcad.store.models import Patient, Segmentation, Series
from gistcad.store.writes import (
    add_series,
    find_center,
    find_series,
    find_study,
    get_or_create_center,
    get_or_create_patient,
)

logger = logging.getLogger(__name__)

UID_MAX_CHARS = 64  # DICOM PS3.5 section 9.1
TAG_STUDY_UID = "StudyInstanceUID (0020,000D)"


@dataclass(frozen=True)
class ImportContext:
    """What every image importer needs besides the session."""

    center: str
    data_dir: Path
    pseudonymizer: Pseudonymizer
    stage: FileStage
    progress: Callable[[int], None] | None = None


def volume_relpath(pseudonym: str, series_uid: str, suffix: str = "") -> Path:
    """Where a canonical volume lives, relative to the data folder."""
    return DataLayout.volume(pseudonym, series_uid, suffix)


def series_row(series: DicomSeries, volume: Volume, path: Path, sha256: str) -> Series:
    """The store row of a converted series (geometry from the canonical volume)."""
    info = series.info
    return Series(
        series_instance_uid=info.series_instance_uid,
        modality=info.modality,
        phase=info.contrast_phase,
        acquisition_date=info.acquisition_date,
        manufacturer=None if info.manufacturer is None else info.manufacturer[:120],
        kvp=info.kvp,
        slice_thickness_mm=info.slice_thickness_mm,
        spacing_mm=[round(float(v), 6) for v in volume.spacing_mm],
        shape=[int(v) for v in volume.shape],
        orientation=[round(float(v), 6) for v in volume.orientation[:, :2].T.ravel()],
        volume_path=str(path),
        volume_sha256=sha256,
    )


def store_mask(
    session: Session,
    ctx: ImportContext,
    series: Series,
    pseudonym: str,
    mask: Volume,
    label: str,
    *,
    report: ImportReport,
    source_file: str,
    made_by: SegmentationSource = SegmentationSource.MANUAL,
) -> bool:
    """Store one mask of ``series`` (canonical NIfTI + row); False if it is already there.

    ``made_by`` is who made it, as its file says (a NIfTI mask says nothing: manual). A mask
    without any voxel is stored (it belongs to the series as exported) and noted in
    ``report``, naming ``source_file``: radiomics has no outline to read and leaves the patient
    out. So is an outline that no reader made: the models read none (``REFERENCE_OUTLINES``).
    """
    source = made_by
    binary = mask.with_array((np.asarray(mask.array) > 0).astype(np.uint8))
    same_label = [s for s in series.segmentations if s.label == label[:80]]
    if any(s.source == source for s in same_label):
        return False  # imported before (another outline of the same name is stored beside it)
    for earlier in same_label:
        if _stored_before_its_maker_was_read(earlier, source, binary):
            earlier.source = source
            report.notes.append(
                f"{source_file}: the outline {label!r} of patient {pseudonym} was stored as a "
                "reader's by an earlier import, which did not read who made an outline; it is "
                f"now recorded as its file says: {SEGMENTATION_SOURCE_LABELS[source]}"
            )
            _note_no_reader(report, source_file, label, pseudonym, source)
            return False
    _note_no_reader(report, source_file, label, pseudonym, source)
    if not binary.array.any():
        report.notes.append(
            f"{source_file}: the outline {label!r} of patient {pseudonym} covers no voxel of its "
            "CT (a contour finer than the voxels, or an empty export); radiomics and the deep "
            "model leave this patient out; check the segmentation and import it again"
        )
    number = len(series.segmentations) + 1
    relative = volume_relpath(pseudonym, series.series_instance_uid, f".mask{number}")
    sha = write_canonical(binary, ctx.stage.path_for(relative))
    volume_ml = float(binary.array.sum()) * binary.voxel_volume_mm3 / 1000.0
    series.segmentations.append(
        Segmentation(
            label=label[:80],
            source=source,
            volume_ml=round(volume_ml, 3),
            path=str(relative),
            sha256=sha,
        )
    )
    return True


def _stored_before_its_maker_was_read(
    earlier: Segmentation, made_by: SegmentationSource, binary: Volume
) -> bool:
    """Whether ``earlier`` is this very outline stored as manual by an import before imports
    read who made an outline (schema 0009): same name, manual, stored before this import (not
    a reader's segment of this very file), the same canonical file (sha256)."""
    if earlier.source != SegmentationSource.MANUAL or made_by is SegmentationSource.MANUAL:
        return False
    if not inspect(earlier).persistent:  # added by this import, not yet written
        return False
    return earlier.sha256 == canonical_sha256(binary)


def _note_no_reader(
    report: ImportReport,
    source_file: str,
    label: str,
    pseudonym: str,
    source: SegmentationSource,
) -> None:
    if source not in REFERENCE_OUTLINES:
        report.notes.append(
            f"{source_file}: the outline {label!r} of patient {pseudonym} was made by a program "
            "without a reader (SegmentAlgorithmType (0062,0008) or ROIGenerationAlgorithm "
            "(3006,0036) AUTOMATIC); it is stored and shown as such, but the models do not "
            "train on it or read it: they read a reader's outline of this CT (manual or "
            "semi-automatic) when one is imported"
        )


def _import_series(
    session: Session,
    ctx: ImportContext,
    series: DicomSeries,
    masks: list[LabelMask],
    report: ImportReport,
) -> tuple[int, Patient]:
    """Import one series and its masks; returns the number of masks stored, and whose."""
    center, _ = get_or_create_center(session, ctx.center)
    original = series.patient_id or ""
    pseudonym = ctx.pseudonymizer.pseudonym(center.name, original)
    patient, created = get_or_create_patient(session, center, pseudonym)
    if created:
        report.notes.append(f"new patient {pseudonym}: no clinical data yet")
    row = find_series(session, series.series_instance_uid)
    if row is not None:
        _check_owner(row, patient, report, series)
        report.unchanged += 1
    else:
        volume = load_series(series)
        relative = volume_relpath(pseudonym, series.series_instance_uid)
        sha = write_canonical(volume, ctx.stage.path_for(relative))
        try:
            row = add_series(
                session,
                patient,
                study_instance_uid=series.info.study_instance_uid,
                study_date=series.info.study_date,
                series=series_row(series, volume, relative, sha),
            )
        except ValidationError:  # stored meanwhile for another patient; rolled back
            report.problems.append(_stored_study_problem(series))
            return 0, patient
        report.created += 1
    stored = sum(
        store_mask(
            session,
            ctx,
            row,
            pseudonym,
            m.volume,
            m.name,
            report=report,
            source_file=str(m.source),
            made_by=m.made_by,
        )
        for m in masks
    )
    session.flush()
    return stored, patient


def link_patients(
    session: Session,
    ctx: ImportContext,
    patients: Iterable[Patient],
    report: ImportReport,
    sources: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Rebuild the timepoints and lesions of ``patients`` (:mod:`gistcad.ingest.follow_up`);
    ``sources`` maps (SeriesInstanceUID, mask label) to the mask's file for the messages."""
    from gistcad.ingest.follow_up import link_follow_up

    known = sources or {}

    def source_of(seg: Segmentation) -> str:
        return known.get((seg.series.series_instance_uid, seg.label), report.source)

    for patient in {p.id: p for p in patients}.values():
        report.problems.extend(
            link_follow_up(session, patient, source_of=source_of, source=report.source)
        )


def _stored_study_problem(series: DicomSeries) -> Problem:
    return Problem(
        str(series.files[0]),
        f"StudyInstanceUID {series.info.study_instance_uid} is already stored for another "
        "patient (by an earlier import), and a study belongs to one patient: this series' "
        "PatientID differs from that patient's. The export mixes patients under one study, or "
        "an anonymiser gave two patients the same study UID; re-export with one "
        "StudyInstanceUID per patient's study, or correct the PatientID.",
        tag=TAG_STUDY_UID,
    )


def stored_study_problems(
    session: Session, ctx: ImportContext, series: Sequence[DicomSeries]
) -> list[Problem]:
    """A Problem for each series whose study an earlier import stored for another patient
    (found before the first write; :func:`add_series` still refuses it if a concurrent import
    stores it meanwhile)."""
    center = find_center(session, ctx.center)
    name = ctx.center if center is None else center.name
    problems = []
    for item in series:
        study = find_study(session, item.info.study_instance_uid)
        if study is None or not item.patient_id:
            continue
        owner = study.patient
        pseudonym = ctx.pseudonymizer.pseudonym(name, item.patient_id)
        if center is None or owner.center_id != center.id or owner.pseudonym != pseudonym:
            problems.append(_stored_study_problem(item))
    return problems


def study_problems(series: Sequence[DicomSeries]) -> list[Problem]:
    """A Problem for each StudyInstanceUID that series of several patients share.

    A study belongs to one patient; the store would refuse the second patient's series in the
    middle of the import. The message names a file of each patient, never the PatientIDs.
    """
    owners: dict[str, dict[str, DicomSeries]] = {}
    for item in series:
        owners.setdefault(item.info.study_instance_uid, {}).setdefault(item.patient_id or "", item)
    problems = []
    for uid, by_patient in owners.items():
        if len(by_patient) < 2:
            continue
        first, *others = by_patient.values()
        elsewhere = ", ".join(str(o.files[0]) for o in others)
        problems.append(
            Problem(
                str(first.files[0]),
                f"StudyInstanceUID {uid} is shared by the series of {len(by_patient)} "
                f"patients (different PatientIDs): this file's and {elsewhere}; a study "
                "belongs to one patient. The export mixes patients under one study, or an "
                "anonymiser gave them the same study UID; re-export with one StudyInstanceUID "
                "per patient's study, or leave out the series of the other patient(s).",
                tag=TAG_STUDY_UID,
            )
        )
    return problems


def _check_owner(row: Series, patient: Patient, report: ImportReport, series: DicomSeries) -> None:
    if row.study.patient_id != patient.id:
        report.problems.append(
            Problem(
                str(series.files[0]),
                "this SeriesInstanceUID is already stored for another patient; the export "
                "mixes patients or the PatientID changed",
                tag="SeriesInstanceUID (0020,000E)",
            )
        )


def import_dicom(session: Session, path: Path, ctx: ImportContext) -> ImportReport:
    """Import every CT series under ``path`` (a folder or a ``.zip``); see the module doc.

    The caller commits the session and publishes ``ctx.stage`` when ``report.ok`` (and not a
    dry run), and rolls back / discards otherwise.
    """
    report = ImportReport(kind="dicom", source=str(path), center=ctx.center)
    if not path.exists():
        report.problems.append(Problem(str(path), "no such file or folder"))
        return report
    if path.suffix.lower() == ".zip":
        # the raw files still carry names and birth dates: unpacked outside the data folder
        with unpack_folder() as unpacked:
            try:
                safe_extract(path, unpacked)
            except ArchiveError as exc:
                report.problems.extend(exc.problems or [Problem(str(path), str(exc))])
                return report
            return _import_folder(session, unpacked, ctx, report)
    return _import_folder(session, path, ctx, report)


def in_date_order(series: Sequence[DicomSeries]) -> list[DicomSeries]:
    """Each patient's series by StudyDate, then SeriesDate (undated last), patients in the
    order they were found: the baseline CT is stored first, so "a patient's first series"
    is the baseline."""
    by_patient: dict[str, list[DicomSeries]] = {}
    for item in series:
        by_patient.setdefault(item.patient_id or "", []).append(item)

    def when(item: DicomSeries) -> tuple[dt.date, dt.date]:
        info = item.info
        return (info.study_date or dt.date.max, info.acquisition_date or dt.date.max)

    return [item for group in by_patient.values() for item in sorted(group, key=when)]


def _import_folder(
    session: Session, folder: Path, ctx: ImportContext, report: ImportReport
) -> ImportReport:
    scan = scan_dicom(folder)
    report.skipped.extend(str(p) for p in scan.skipped)
    report.problems.extend(scan.problems)
    reading = read_masks(scan)
    report.problems.extend(reading.problems)
    report.notes.extend(reading.notes)
    missing_ids = [s for s in scan.series if not s.patient_id]
    report.problems.extend(
        Problem(
            str(s.files[0]),
            "no PatientID: cannot tell whose scan it is",
            tag="PatientID (0010,0020)",
        )
        for s in missing_ids
    )
    report.problems.extend(
        Problem(str(s.files[0]), "longer than 64 characters: not a DICOM UID", tag=tag)
        for s in scan.series
        for tag, uid in (
            ("SeriesInstanceUID (0020,000E)", s.info.series_instance_uid),
            (TAG_STUDY_UID, s.info.study_instance_uid),
        )
        if len(uid or "") > UID_MAX_CHARS
    )
    report.problems.extend(study_problems(scan.series))
    report.problems.extend(stored_study_problems(session, ctx, scan.series))
    if not scan.series and not scan.problems:
        report.problems.append(Problem(str(folder), "no CT image series found"))
    if not report.ok:
        return report
    import_lock(session)
    stored = 0
    patients = []
    for series in in_date_order(scan.series):
        masks = [m for m in reading.masks if m.series_instance_uid == series.series_instance_uid]
        count, patient = _import_series(session, ctx, series, masks, report)
        stored += count
        patients.append(patient)
        if ctx.progress:
            ctx.progress(1)
    sources = {(m.series_instance_uid, m.name[:80]): str(m.source) for m in reading.masks}
    link_patients(session, ctx, patients, report, sources)
    if reading.masks:
        already = len(reading.masks) - stored
        report.notes.append(f"{stored} mask(s) stored, {already} already stored")
    return report
