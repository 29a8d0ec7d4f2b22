"""Build the synthetic multi-center cohort on disk: what ``gistcad demo build`` does.

Layout written under the output folder (nothing is written anywhere else)::

    README.txt               what this is; oracle.csv must never be used as a feature
    manifest.json            options, counts, ceilings (no time stamps: builds are reproducible)
    oracle.csv               Bayes posterior of every genotype class per patient + true labels
    ceiling.json             ceiling AUCs of that posterior, pooled and per center
    centers/<center>/clinical.csv|.xlsx                   in the center's own format
    centers/<center>/dicom/<patient id>/CT/*.dcm          one portal-venous CT series
    centers/<center>/dicom/<patient id>/SEG/seg.dcm       DICOM SEG centers
    centers/<center>/dicom/<patient id>/RTSTRUCT/rtstruct.dcm   the RTSTRUCT center
    centers/<center>/masks/<patient id>.nii.gz            NIfTI centers

Every random draw comes from ``numpy.random.SeedSequence`` children of the seed (the clinical
table from one stream, each patient's image from a stream keyed by its index), and every UID
is derived from the seed, so the same options give byte-identical folders whatever the number
of worker processes. Images are rendered and written one patient at a time, so memory does not
grow with the number of patients.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistcad import __version__
from gistcad.errors import ValidationError
from gistcad.synth.centers import CenterProfile, MaskFormat, default_centers
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.ct_export import derive_uid, write_ct_series
from gistcad.synth.mask_export import write_nifti_mask, write_rtstruct, write_seg
from gistcad.synth.oracle import ceiling_aucs, ceiling_aucs_by_center, oracle_posterior
from gistcad.synth.phantom import render_ct
from gistcad.synth.tables import write_clinical_table

logger = logging.getLogger(__name__)

MIN_MATRIX, MAX_MATRIX = 64, 512
SCAN_TO_SURGERY_DAYS = 21
README = """\
Synthetic multi-center GIST cohort, written by gistcad {version} (gistcad demo build).

Everything here is invented: no real patient is described. The patient names, birth dates
and hospital ids in the DICOM headers and clinical tables are fake and exist so that the
importer's de-identification is exercised.

centers/<center>/   what that center sends: a clinical table in its own format, one CT series
                    per patient, and tumour masks (DICOM SEG, RTSTRUCT or NIfTI).
oracle.csv          the Bayes posterior of each genotype class given everything the image
                    shows, and the true labels. It measures models: NEVER import it or use it
                    as a feature.
ceiling.json        the AUCs of that posterior: no model can beat them on these data.
manifest.json       the options of this build.

Options: {options}
"""


@dataclass(frozen=True)
class BuildOptions:
    """Options of one build (the command line's flags).

    Attributes
    ----------
    out
        Output folder; must be empty or absent.
    patients, centers, seed, signal
        Cohort size, number of centers (1-6), seed, genotype signal in [0, 1] (0 = no
        signal: the negative control).
    matrix
        In-plane pixels (256 demo, 512 clinical; 64-512 allowed, small values for tests);
        each center keeps its field of view, see :mod:`gistcad.synth.centers`.
    scan_length_mm
        Length of the scanned range, mm (lengthened when a tumour needs more).
    workers
        Processes for the images (default: the machine's cores).
    """

    out: Path
    patients: int = 200
    centers: int = 6
    seed: int = 0
    signal: float = 1.0
    matrix: int = 256
    scan_length_mm: float = 200.0
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise ValidationError(f"--patients must be at least 1 (got {self.patients})")
        if not MIN_MATRIX <= self.matrix <= MAX_MATRIX:
            raise ValidationError(
                f"--matrix must be between {MIN_MATRIX} and {MAX_MATRIX} (got {self.matrix}); "
                "256 for the demo, 512 for clinical in-plane size"
            )
        if self.seed < 0:
            raise ValidationError(f"--seed must be >= 0 (got {self.seed})")
        if not 0.0 <= self.signal <= 1.0:
            raise ValidationError(
                f"--signal must lie in [0, 1] (got {self.signal}); 0 is the no-signal control"
            )
        default_centers(self.centers)  # raises on a count outside 1-6

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("out")
        data.pop("workers")
        return data


@dataclass(frozen=True)
class BuildSummary:
    out: Path
    patients: int
    centers: dict[str, int]
    ceilings: dict[str, float]
    files: int


@dataclass(frozen=True)
class _PatientTask:
    record: dict[str, Any]
    center: CenterProfile
    out: Path
    seed: int
    matrix: int
    scan_length_mm: float


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (nothing is overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(
            f"{out} is not an empty folder; choose a new folder for the cohort (nothing was "
            "written)"
        )


def _patient_rng(seed: int, patient_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 1, patient_index]))


def write_patient(task: _PatientTask) -> int:
    """Render and write one patient's CT and mask; returns the number of files written."""
    record, center = task.record, task.center
    hid = str(record["hospital_id"])
    ct = render_ct(
        record,
        center,
        matrix=task.matrix,
        rng=_patient_rng(task.seed, int(record["patient_index"])),
        scan_length_mm=task.scan_length_mm,
    )
    root = f"gistcad-synth/{task.seed}/{center.name}/{hid}"
    study_date = record["surgery_date"] - dt.timedelta(days=SCAN_TO_SURGERY_DAYS)
    patient_dir = task.out / "centers" / center.name / "dicom" / hid
    files = write_ct_series(
        ct,
        record,
        center,
        patient_dir / "CT",
        study_uid=derive_uid(root, "study"),
        series_uid=derive_uid(root, "ct"),
        frame_of_reference_uid=derive_uid(root, "frame"),
        uid_root_entropy=root,
        study_date=study_date,
    )
    mask = ct.tumour_mask
    if center.mask_format is MaskFormat.DICOM_SEG:
        write_seg(
            mask,
            files,
            patient_dir / "SEG" / "seg.dcm",
            series_uid=derive_uid(root, "seg"),
            sop_uid=derive_uid(root, "seg", "sop"),
            study_date=study_date,
        )
    elif center.mask_format is MaskFormat.RTSTRUCT:
        write_rtstruct(
            mask,
            files,
            patient_dir / "RTSTRUCT" / "rtstruct.dcm",
            series_uid=derive_uid(root, "rt"),
            sop_uid=derive_uid(root, "rt", "sop"),
            study_date=study_date,
        )
    else:
        masks = task.out / "centers" / center.name / "masks"
        masks.mkdir(parents=True, exist_ok=True)
        write_nifti_mask(mask, ct, masks / f"{hid}.nii.gz")
    return len(files) + 1


def _tasks(
    cohort: pd.DataFrame, centers: Mapping[str, CenterProfile], options: BuildOptions
) -> Iterator[_PatientTask]:
    for record in cohort.to_dict(orient="records"):
        yield _PatientTask(
            record=record,
            center=centers[record["center"]],
            out=options.out,
            seed=options.seed,
            matrix=options.matrix,
            scan_length_mm=options.scan_length_mm,
        )


def _write_tables(
    cohort: pd.DataFrame, centers: Mapping[str, CenterProfile], options: BuildOptions
) -> dict[str, float]:
    oracle = oracle_posterior(cohort, signal=options.signal)
    oracle.to_csv(options.out / "oracle.csv", index=False, float_format="%.6f", lineterminator="\n")
    # The ceilings of the posterior as written. Unrounded, a posterior that is constant (signal
    # 0) differs between patients in its 16th digit, and AUC ranks those differences: 0.53
    # where oracle.csv, and every evaluation that reads it, gives 0.5.
    written = oracle.round(6)
    pooled = {k: round(v, 6) for k, v in ceiling_aucs(written).items()}
    by_center = ceiling_aucs_by_center(written).round(6)
    (options.out / "ceiling.json").write_text(
        json.dumps(
            {"pooled": pooled, "by_center": json.loads(by_center.to_json(orient="index"))},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    for name, rows in cohort.groupby("center", sort=True):
        write_clinical_table(rows, centers[str(name)], options.out / "centers" / str(name))
    return pooled


def build_cohort(
    options: BuildOptions, progress: Callable[[int], None] | None = None
) -> BuildSummary:
    """Write the cohort described by ``options``; ``progress(k)`` is called per patient."""
    check_output_folder(options.out)
    profiles = default_centers(options.centers)
    centers = {c.name: c for c in profiles}
    clinical_rng = np.random.default_rng(np.random.SeedSequence([options.seed, 0]))
    cohort = draw_cohort(options.patients, profiles, rng=clinical_rng, signal=options.signal)
    options.out.mkdir(parents=True, exist_ok=True)
    ceilings = _write_tables(cohort, centers, options)
    workers = options.workers or os.cpu_count() or 1
    if workers == 1:
        for task in _tasks(cohort, centers, options):
            write_patient(task)
            if progress:
                progress(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(write_patient, _tasks(cohort, centers, options), chunksize=2):
                if progress:
                    progress(1)
    counts = {str(k): int(v) for k, v in cohort["center"].value_counts().sort_index().items()}
    manifest = {
        "generator": f"gistcad {__version__}",
        "options": options.describe(),
        "patients_by_center": counts,
        "ceilings": ceilings,
    }
    (options.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (options.out / "README.txt").write_text(
        README.format(version=__version__, options=json.dumps(options.describe()))
    )
    logger.info("synthetic cohort of %d patients written to %s", options.patients, options.out)
    written = sum(1 for path in options.out.rglob("*") if path.is_file())
    return BuildSummary(options.out, options.patients, counts, ceilings, written)
