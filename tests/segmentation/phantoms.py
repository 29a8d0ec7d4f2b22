"""Tiny seeded CT phantoms for the outline tests: a tumour in fat, touching a bright organ;
and the patient the outline tests share, whose CT is the phantom and who has no mask yet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.imaging.nifti_io import write_canonical
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.store.models import Patient, Series, Study
from tests.factories import add_center

SHAPE = (64, 64, 32)
SPACING = (1.0, 1.0, 2.0)
AFFINE = np.diag([*SPACING, 1.0])
AIR, FAT, TUMOUR, ORGAN = -1000.0, -100.0, 45.0, 110.0


@dataclass(frozen=True)
class Phantom:
    ct: Volume
    tumour: np.ndarray  # bool (i, j, k)
    organ: np.ndarray  # bool (i, j, k)
    centre: tuple[int, int, int]


def phantom(
    *, noise_sd: float = 8.0, seed: int = 0, radii_mm: tuple[float, ...] = (11, 9, 10)
) -> Phantom:
    """Air around a body of fat; an organ (110 HU) filling the body's right part over every
    slice; an ellipsoidal tumour (45 HU) touching the organ; Gaussian noise of ``noise_sd``."""
    i, j, k = np.meshgrid(*(np.arange(n) for n in SHAPE), indexing="ij")
    mm = [i * SPACING[0], j * SPACING[1], k * SPACING[2]]
    body = (i >= 4) & (i < SHAPE[0] - 4) & (j >= 4) & (j < SHAPE[1] - 4)
    organ = body & (i >= 44)
    centre_mm = (44.0 - radii_mm[0], 32.0, 32.0)
    rho = sum(((m - c) / r) ** 2 for m, c, r in zip(mm, centre_mm, radii_mm, strict=True))
    tumour = (rho <= 1.0) & body & ~organ
    hu = np.full(SHAPE, AIR)
    hu[body] = FAT
    hu[organ] = ORGAN
    hu[tumour] = TUMOUR
    hu += np.random.default_rng(seed).normal(0.0, noise_sd, SHAPE)
    centre = tuple(round(c / s) for c, s in zip(centre_mm, SPACING, strict=True))
    return Phantom(Volume(hu.astype(np.int16), AFFINE), tumour, organ, centre)  # type: ignore[arg-type]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """2|A∩B| / (|A| + |B|)."""
    return 2.0 * float(np.logical_and(a, b).sum()) / float(a.sum() + b.sum())


#: the outlined patient's pseudonym and CT series
PATIENT = "P-1"
SERIES_UID = "1.2.826.0.1.3680043.99.1"


def add_phantom_patient(engine: Engine, data_dir: Path) -> Volume:
    """Store :data:`PATIENT` of center Alpha with the default :func:`phantom` CT as its
    canonical volume in ``data_dir`` and no mask; return the CT."""
    ct = phantom().ct
    relative = DataLayout.volume(PATIENT, SERIES_UID)
    with Session(engine) as s:
        patient = Patient(pseudonym=PATIENT, center=add_center(s, "Alpha"))
        study = Study(study_instance_uid="1.2.826.0.1.3680043.99")
        study.series.append(
            Series(
                series_instance_uid=SERIES_UID,
                modality="CT",
                spacing_mm=list(SPACING),
                shape=list(ct.shape),
                orientation=[1, 0, 0, 0, 1, 0],
                volume_path=str(relative),
                volume_sha256=write_canonical(ct, DataLayout(data_dir).resolve(relative)),
            )
        )
        patient.studies.append(study)
        s.add(patient)
        s.commit()
    return ct
