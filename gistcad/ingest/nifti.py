"""Import NIfTI: tumour masks for stored CT series, and the public WORC layout.

Two entry points:

- :func:`import_mask_folder`: ``<patient id>.nii[.gz]`` masks for patients whose CT series is
  already stored (how some centers send their segmentations). Each mask must match its
  image's geometry exactly or is refused with both geometries in the message.
- :func:`import_worc`: the WORC database layout (``<subject>/image*.nii.gz`` paired with
  ``segmentation*.nii.gz`` by their common suffix, several lesions per subject), with an
  optional label file (:mod:`gistcad.ingest.worc_labels`: 1 = yes, 0 = no, 2 or blank =
  unknown). Subjects labelled 0 (another tumour than a GIST) are skipped and listed. Every
  image and mask is read whole before anything is written: nibabel reads the voxels only when
  they are asked for, so a file cut short passes its header check and fails later; here it is
  reported with the other problems, by name.

A NIfTI image has no DICOM UIDs; the series is identified by a UID derived from the image
file's sha256, so importing the same file again is a no-op.
"""

from __future__ import annotations

import logging
import re
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy.orm import Session

from gistcad.domain import ContrastPhase
from gistcad.errors import GistcadError, ValidationError
from gistcad.imaging import Volume, read_mask, read_nifti, sha256_file, write_canonical
from gistcad.ingest.dicom import ImportContext, store_mask, volume_relpath
from gistcad.ingest.report import ImportReport
from gistcad.ingest.worc_labels import WorcLabel, read_worc_labels
from gistcad.problems import Problem
from gistcad.store.engine import import_lock
from gistcad.store.models import Center, Patient, Series
from gistcad.store.writes import (
    add_series,
    find_series,
    get_or_create_center,
    get_or_create_patient,
    patient_ct_series,
    set_genotype,
)

logger = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii.gz", ".nii")
_UID_NAMESPACE = uuid.UUID("5b0f6f0e-4c3e-4a57-9d0c-2f1e8b9f6a11")
#: what reading the voxels of a damaged or cut-off file raises (gzip's EOFError, nibabel's
#: "Expected n bytes, got m" OSError, zlib's error, numpy's ValueError for a short memory map)
_DAMAGED = (EOFError, OSError, zlib.error, ValueError)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def file_uid(sha256: str, kind: str) -> str:
    """A DICOM-style UID (2.25 form) derived from a file's checksum."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, f'{kind}:{sha256}').int}"


def _damaged_message(exc: BaseException) -> str:
    short = isinstance(exc, EOFError) or str(exc).startswith("Expected ")
    detail = "it ends before its last voxel" if short else str(exc).splitlines()[0]
    return f"the file is damaged or incomplete ({detail}); copy it again from the source"


def read_checked(path: Path, read: Callable[[], Volume]) -> Volume:
    """``read()`` (a reader of ``path``), with what a damaged file raises as its voxels are read
    (lazily, outside :func:`read_nifti`'s own handler) turned into a :class:`ValidationError`
    that names ``path`` and says what to do.

    Raises
    ------
    ValidationError
        When the file cannot be read or breaks a rule of the reader.
    """
    try:
        return read()
    except GistcadError as exc:
        if isinstance(exc.__cause__, _DAMAGED) and not isinstance(exc.__cause__, GistcadError):
            raise ValidationError(f"{path}: {_damaged_message(exc.__cause__)}") from exc
        raise
    except _DAMAGED as exc:
        raise ValidationError(f"{path}: {_damaged_message(exc)}") from exc


def _problem(path: Path, exc: GistcadError) -> Problem:
    return Problem(str(path), str(exc).removeprefix(f"{path}: "))


def _nifti_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(NIFTI_SUFFIXES)
    )


#: ``<patient id>_<YYYYMMDD>_lesion<n>[_<organ>]``: one lesion on the CT of that study date.
_DATED_MASK = re.compile(r"^(?P<pid>.+?)_(?P<date>\d{8})_(?P<label>lesion\d+(?:_[a-z_]+)?)$", re.I)


def _mask_target(
    session: Session, patient: Patient, stem: str, created: bool
) -> tuple[Series | None, str, str]:
    """The series a mask file belongs to, its label, or why none (then the series is None).

    ``<id>.nii[.gz]`` is the mask of the patient's only CT series, or of the only series of
    the first (baseline) study when follow-up studies are stored; ``<id>_<YYYYMMDD>_lesion<n>
    [_<organ>]`` is lesion ``n`` on the CT series of the study of that date.
    """
    series = [] if created else patient_ct_series(session, patient)
    if not series:
        return None, "", "no CT series is stored for this patient: import the DICOM first"
    dated = _DATED_MASK.match(stem)
    if dated is None:
        if len(series) > 1:
            dates = {s.study.study_date for s in series}
            first = min((d for d in dates if d is not None), default=None)
            baseline = [s for s in series if first is not None and s.study.study_date == first]
            if None not in dates and len(baseline) == 1:
                return baseline[0], "tumour", ""
            why = f"{len(series)} CT series are stored for this patient: the mask is ambiguous"
            return None, "", why
        return series[0], "tumour", ""
    day = dated.group("date")
    on_day = [
        s
        for s in series
        if s.study.study_date is not None and f"{s.study.study_date:%Y%m%d}" == day
    ]
    if len(on_day) != 1:
        why = (
            f"no CT study of this patient is dated {day}: the lesion's CT must be imported first"
            if not on_day
            else f"{len(on_day)} CT series are dated {day}: the mask is ambiguous"
        )
        return None, "", why
    label = dated.group("label").replace("_", " ")
    return on_day[0], re.sub(r"^lesion(\d+)", r"lesion \1", label, flags=re.I), ""


def import_mask_folder(session: Session, folder: Path, ctx: ImportContext) -> ImportReport:
    """Masks named ``<patient id>.nii[.gz]`` (or ``<patient id>_<YYYYMMDD>_lesion<n>_<organ>``
    for follow-up lesions) for patients whose CT series is stored."""
    from gistcad.ingest.dicom import link_patients

    report = ImportReport(kind="masks", source=str(folder), center=ctx.center)
    if not folder.is_dir():
        report.problems.append(Problem(str(folder), "not a folder"))
        return report
    import_lock(session)
    center, _ = get_or_create_center(session, ctx.center)
    patients: list[Patient] = []
    sources: dict[tuple[str, str], str] = {}
    for path in _nifti_files(folder):
        stem = _stem(path)
        dated = _DATED_MASK.match(stem)
        original = dated.group("pid") if dated else stem
        pseudonym = ctx.pseudonymizer.pseudonym(center.name, original)
        patient, created = get_or_create_patient(session, center, pseudonym)
        target, label, why = _mask_target(session, patient, stem, created)
        if target is None:
            report.problems.append(Problem(str(path), why))
            continue
        image = read_nifti(ctx.stage.resolve(target.volume_path))
        try:
            mask = read_checked(path, partial(read_mask, path, image))
        except GistcadError as exc:
            report.problems.append(_problem(path, exc))
            continue
        if store_mask(
            session, ctx, target, pseudonym, mask, label, report=report, source_file=str(path)
        ):
            report.created += 1
        else:
            report.unchanged += 1
        patients.append(patient)
        sources[(target.series_instance_uid, label)] = str(path)
        if ctx.progress:
            ctx.progress(1)
    session.flush()
    if report.ok:
        link_patients(session, ctx, patients, report, sources)
    return report


@dataclass(frozen=True)
class WorcLesion:
    subject: str
    image: Path
    segmentation: Path
    lesion: str


def pair_worc(subject_dir: Path) -> tuple[list[WorcLesion], list[Problem]]:
    """Pair ``image<suffix>`` with ``segmentation<suffix>`` in one subject folder."""
    images: dict[str, Path] = {}
    masks: dict[str, Path] = {}
    for path in _nifti_files(subject_dir):
        match = re.match(r"^(image|segmentation)(.*)$", _stem(path))
        if match is None:
            continue
        (images if match.group(1) == "image" else masks)[match.group(2)] = path
    lesions = [
        WorcLesion(subject_dir.name, images[key], masks[key], key.lstrip("_") or "1")
        for key in sorted(images.keys() & masks.keys())
    ]
    problems = [
        Problem(str(p), "pairs with nothing (expected image<suffix> with segmentation<suffix>)")
        for key, p in sorted({**images, **masks}.items())
        if key not in images.keys() & masks.keys()
    ]
    return lesions, problems


def _worc_labels(
    labels: Path | None, subjects: set[str], report: ImportReport
) -> dict[str, WorcLabel]:
    """Per subject, its label row; problems of the file go to ``report``."""
    if labels is None:
        return {}
    read = read_worc_labels(labels)
    report.problems.extend(read.problems)
    unmatched = sorted(read.by_subject.keys() - subjects)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (" ..." if len(unmatched) > 5 else "")
        report.notes.append(
            f"{labels}: {len(unmatched)} label row(s) match no subject folder ({shown}); "
            "the Patient column must hold the folders' names"
        )
    return read.by_subject


def _read_lesion(lesion: WorcLesion) -> tuple[Volume, Volume] | Problem:
    """The lesion's image and mask, read whole, or the problem (naming the file)."""
    try:
        image = read_checked(lesion.image, partial(read_nifti, lesion.image, mmap=False))
    except GistcadError as exc:
        return _problem(lesion.image, exc)
    try:
        mask = read_checked(lesion.segmentation, partial(read_mask, lesion.segmentation, image))
    except GistcadError as exc:
        return _problem(lesion.segmentation, exc)
    return image, mask


def import_worc(
    session: Session, root: Path, ctx: ImportContext, labels: Path | None = None
) -> ImportReport:
    """Import a WORC-layout folder (``root`` holds one folder per subject).

    Every label row, pairing, image and mask is checked first; the first write follows only
    when nothing is wrong. A subject labelled 0 (another tumour) is skipped and listed.
    """
    report = ImportReport(kind="nifti (WORC layout)", source=str(root), center=ctx.center)
    subjects = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not subjects:
        report.problems.append(Problem(str(root), "no subject folders (expected GIST-001/ ...)"))
        return report
    worc_labels = _worc_labels(labels, {s.name for s in subjects}, report)
    plans = []
    for subject in subjects:
        lesions, problems = pair_worc(subject)
        report.problems.extend(problems)
        label = worc_labels.get(subject.name)
        if label is not None and not label.is_gist:
            report.skipped.append(f"{subject.name}: not a GIST (label 0)")
            continue
        plans.extend(lesions)
    for lesion in plans:  # every voxel read before the first write; one image at a time
        read = _read_lesion(lesion)
        if isinstance(read, Problem):
            report.problems.append(read)
    if not report.ok:
        return report
    import_lock(session)
    center, _ = get_or_create_center(session, ctx.center)
    for lesion in plans:
        _import_worc_lesion(session, ctx, center, lesion, worc_labels.get(lesion.subject), report)
    session.flush()
    return report


def _import_worc_lesion(
    session: Session,
    ctx: ImportContext,
    center: Center,
    lesion: WorcLesion,
    label: WorcLabel | None,
    report: ImportReport,
) -> None:
    pseudonym = ctx.pseudonymizer.pseudonym(center.name, lesion.subject)
    patient, _ = get_or_create_patient(session, center, pseudonym)
    if label is not None and label.text:
        set_genotype(session, patient, label.genotype, label.text)
    sha = sha256_file(lesion.image)
    uid = file_uid(sha, "series")
    row = find_series(session, uid)
    read = _read_lesion(lesion)  # again: checked before the first write, not kept in memory
    if isinstance(read, Problem):  # changed since
        report.problems.append(read)
        return
    image, mask = read
    if row is None:
        row = _store_nifti_series(session, ctx, patient, pseudonym, image, uid, sha)
        report.created += 1
    elif row.study.patient_id != patient.id:
        report.problems.append(
            Problem(
                str(lesion.image),
                "the same image file is already stored for another "
                "subject; check the export for a copied file",
            )
        )
        return
    else:
        report.unchanged += 1
    store_mask(
        session,
        ctx,
        row,
        pseudonym,
        mask,
        f"lesion {lesion.lesion}",
        report=report,
        source_file=str(lesion.segmentation),
    )
    if ctx.progress:
        ctx.progress(1)


def _store_nifti_series(
    session: Session,
    ctx: ImportContext,
    patient: Patient,
    pseudonym: str,
    image: Volume,
    uid: str,
    sha: str,
) -> Series:
    relative = volume_relpath(pseudonym, uid)
    canonical_sha = write_canonical(image, ctx.stage.path_for(relative))
    row = Series(
        series_instance_uid=uid,
        modality="CT",
        phase=ContrastPhase.UNKNOWN,
        spacing_mm=[round(float(v), 6) for v in image.spacing_mm],
        shape=[int(v) for v in image.shape],
        orientation=[round(float(v), 6) for v in image.orientation[:, :2].T.ravel()],
        volume_path=str(relative),
        volume_sha256=canonical_sha,
    )
    return add_series(
        session,
        patient,
        study_instance_uid=file_uid(sha, "study"),
        study_date=None,
        series=row,
    )
