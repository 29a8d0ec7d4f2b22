"""Tiny follow-up patients for tests: square lesions in small CT volumes, written as canonical
NIfTI files into a data folder, and the store rows that point at them.

Each lesion is an axis-aligned square of ``side`` voxels (1 mm in-plane) on 3 slices of 3 mm, so
its longest axial diameter is the square's diagonal between voxel centres, ``(side - 1) * √2``
mm, its volume ``side² × 9`` mm³, and its mean HU the value written inside it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from gistcad.domain import LesionOrgan, LesionRole, SegmentationSource
from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import Volume
from gistcad.store.models import (
    Center,
    Lesion,
    Patient,
    Segmentation,
    Series,
    Study,
    Timepoint,
)

SHAPE = (64, 64, 9)
SPACING = (1.0, 1.0, 3.0)
AFFINE = np.diag([*SPACING, 1.0])
BACKGROUND_HU = -50
START = dt.date(2024, 1, 10)
EVERY_DAYS = 60


@dataclass(frozen=True)
class Seen:
    """A lesion at one timepoint: a square of ``side`` voxels (0: gone, an empty mask)."""

    side: int
    hu: float = 60.0


@dataclass(frozen=True)
class Spec:
    organ: LesionOrgan
    role: LesionRole = LesionRole.NON_TARGET
    is_node: bool = False


def diagonal_mm(side: int) -> float:
    return (side - 1) * float(np.sqrt(2))


def _square(number: int, side: int) -> tuple[slice, slice, slice]:
    cx, cy = 16 + 32 * ((number - 1) % 2), 16 + 32 * ((number - 1) // 2 % 2)
    low_x, low_y = cx - side // 2, cy - side // 2
    return slice(low_x, low_x + side), slice(low_y, low_y + side), slice(3, 6)


def add_followup_patient(
    session: Session,
    data_dir: Path,
    center: Center,
    pseudonym: str,
    lesions: dict[int, Spec],
    timepoints: list[dict[int, Seen]],
) -> Patient:
    """A patient with one CT per timepoint (every 60 days from the treatment start) and a mask
    per lesion seen there; a lesion's first timepoint is the first where it is seen."""
    patient = Patient(pseudonym=pseudonym, center_id=center.id)
    session.add(patient)
    session.flush()
    rows = {
        n: Lesion(patient_id=patient.id, number=n, organ=s.organ, role=s.role, is_node=s.is_node)
        for n, s in lesions.items()
    }
    session.add_all(rows.values())
    session.flush()
    for t, seen in enumerate(timepoints):
        day = START + dt.timedelta(days=t * EVERY_DAYS)
        uid = f"1.2.826.0.9.{center.id}.{patient.id}.{t}"
        study = Study(patient_id=patient.id, study_instance_uid=uid, study_date=day)
        session.add(study)
        session.flush()
        hu = np.full(SHAPE, BACKGROUND_HU, np.int16)
        masks = {}
        for n, lesion in seen.items():
            mask = np.zeros(SHAPE, np.uint8)
            if lesion.side:
                mask[_square(n, lesion.side)] = 1
                hu[mask > 0] = lesion.hu
            masks[n] = mask
        volume_path = f"volumes/{pseudonym}/t{t}.nii"
        series = Series(
            study_id=study.id,
            series_instance_uid=f"{uid}.1",
            modality="CT",
            spacing_mm=list(SPACING),
            shape=list(SHAPE),
            orientation=[1, 0, 0, 0, 1, 0],
            volume_path=volume_path,
            volume_sha256=write_canonical(Volume(hu, AFFINE), data_dir / volume_path),
        )
        session.add(series)
        session.flush()
        timepoint = Timepoint(
            patient_id=patient.id,
            study_id=study.id,
            number=t,
            study_date=day,
            days_from_treatment_start=t * EVERY_DAYS,
        )
        session.add(timepoint)
        session.flush()
        for n, mask in masks.items():
            mask_path = f"volumes/{pseudonym}/t{t}_lesion{n}.nii"
            session.add(
                Segmentation(
                    series_id=series.id,
                    label=f"lesion {n}",
                    source=SegmentationSource.MANUAL,
                    path=mask_path,
                    sha256=write_canonical(Volume(mask, AFFINE), data_dir / mask_path),
                    lesion_id=rows[n].id,
                )
            )
            if rows[n].first_timepoint_id is None and seen[n].side:
                rows[n].first_timepoint_id = timepoint.id
        session.flush()
    return patient
