"""Build the synthetic multi-center cohort on disk: what ``gistcad demo build`` does.

Layout written under the output folder (nothing is written anywhere else)::

    README.txt               what this is; oracle.csv must never be used as a feature
    manifest.json            options, counts, ceilings (no time stamps: builds are reproducible)
    oracle.csv               Bayes posterior of every genotype class per patient + true labels,
                             for each reference (latent ceiling, the same with age and sex, the
                             observable reference, the clinical oracle), and the true
                             recurrence model (prognostic trait z, AFIP baseline, linear
                             predictors: :mod:`gistcad.synth.prognosis`)
    ceiling.json             ceiling AUCs of the latent posterior, pooled and per center, the
                             pooled AUCs of every reference, and the C-index ceilings of RFS
                             ``rfs_c_clinical`` and ``rfs_c_with_trait`` ({"pooled": C,
                             "<center>": C, ...}; :func:`~gistcad.synth.prognosis.rfs_ceilings`)
    centers/<center>/clinical.csv|.xlsx                   in the center's own format
    centers/<center>/dicom/<patient id>/CT/*.dcm          one portal-venous CT series
    centers/<center>/dicom/<patient id>/SEG/seg.dcm       DICOM SEG centers
    centers/<center>/dicom/<patient id>/RTSTRUCT/rtstruct.dcm   the RTSTRUCT center
    centers/<center>/masks/<patient id>.nii.gz            NIfTI centers
    follow_up_truth.csv      truth of every lesion at every timepoint of the treated patients
    follow_up_categories.csv RECIST 1.1 and Choi categories (and reasons) of that truth, per
                             treated patient and follow-up CT
    follow_up_posterior.csv  the generator's ceiling of the response targets: per patient,
                             P(Choi response at 2 months), P(RECIST progression by 6 months)
                             given the genotype and the baseline trait
    centers/<center>/treatment_lines.csv                  neoadjuvant imatinib of those patients
    centers/<center>/dicom/<patient id>/FU<k>/CT|SEG|RTSTRUCT   follow-up CT k (1-3), a mask
                             per lesion (SEG/RTSTRUCT labelled "lesion <n> <organ>")
    centers/<center>/masks/<patient id>_<YYYYMMDD>_lesion<n>_<organ>.nii.gz   NIfTI centers

The follow-up (:mod:`gistcad.synth.follow_up`) is drawn from its own child of the seed, after
the baseline; ``BuildOptions(follow_up=False)`` (``--no-follow-up``) leaves it out.

Every random draw comes from ``numpy.random.SeedSequence`` children of the seed (the clinical
table from one stream, each patient's image from a stream keyed by its index), and every UID
is derived from the seed, so the same options give byte-identical folders whatever the number
of worker processes (each patient is a task of :func:`gistcad.cluster.run_cases`). Images are
rendered and written one patient at a time, so memory does not grow with the number of
patients.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gistcad import __version__
from gistcad.cluster import run_cases
from gistcad.errors import ValidationError
from gistcad.imaging.lesion_measures import longest_axial_diameter_mm
from gistcad.synth.centers import CenterProfile, MaskFormat, default_centers
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.ct_export import WrittenSlice, derive_uid, write_ct_slices
from gistcad.synth.follow_up import (
    GENOTYPE_RESPONSE,
    NOISE_SD,
    TRAIT_EFFECT,
    TRUTH_COLUMNS,
    LesionState,
    PatientPlan,
    TimepointPlan,
    follow_up_rng,
    lesion_role,
    plan_follow_up,
    response_posterior,
    treatment_lines,
    truth_categories,
)
from gistcad.synth.mask_export import write_nifti_mask, write_rtstruct, write_seg
from gistcad.synth.observation import MEASUREMENT_COLUMNS, measure_patient
from gistcad.synth.oracle import (
    ceiling_aucs,
    ceiling_aucs_by_center,
    reference_aucs,
    reference_posteriors,
)
from gistcad.synth.phantom import LiverLesion, RenderedCT, render_ct
from gistcad.synth.prognosis import (
    RECURRENCE_TRUTH_COLUMNS,
    recurrence_truth,
    rfs_ceilings,
)
from gistcad.synth.tables import write_clinical_table

logger = logging.getLogger(__name__)

MIN_MATRIX, MAX_MATRIX = 64, 512
SCAN_TO_SURGERY_DAYS = 21
FOLLOW_UP_TRUTH = "follow_up_truth.csv"
FOLLOW_UP_CATEGORIES = "follow_up_categories.csv"
FOLLOW_UP_POSTERIOR = "follow_up_posterior.csv"
TREATMENT_LINES = "treatment_lines.csv"
README = """\
Synthetic multi-center GIST cohort, written by gistcad {version} (gistcad demo build).

Everything here is invented: no real patient is described. The patient names, birth dates
and hospital ids in the DICOM headers and clinical tables are fake and exist so that the
importer's de-identification is exercised.

centers/<center>/   what that center sends: a clinical table in its own format, one CT series
                    per patient, and tumour masks (DICOM SEG, RTSTRUCT or NIfTI).
oracle.csv          the Bayes posterior of each genotype class given everything the image
                    shows, and the true labels. It measures models: NEVER import it or use it
                    as a feature. Beside the latent ceiling (p_*: given the exact phenotype)
                    it holds latent_with_age_sex_p_* (the same and age and sex),
                    observable_p_* (given site, size, age, sex and what the CT shows of the
                    phenotype, measured with calibrated error) and clinical_oracle_p_* (given
                    site, size, age and sex only). Its survival columns are the true
                    recurrence model: prognostic_trait_z (the planted imaging trait, the
                    grain of the tumour's texture), afip_recurrence_probability,
                    clinical_linear_predictor and true_linear_predictor (log of the hazard
                    multiplier without and with the trait).
ceiling.json        the AUCs of those posteriors: no model can beat latent_with_age_sex on
                    average; observable is the realistic target of an image model.
                    rfs_c_clinical / rfs_c_with_trait: Harrell's C of RFS of the true risk
                    without and with the trait, pooled and per center: no survival score
                    can beat rfs_c_with_trait on average.
follow_up_truth.csv the true size and density of every lesion of the patients treated with
                    neoadjuvant imatinib, at every CT: like oracle.csv, NEVER import it.
follow_up_categories.csv  the RECIST 1.1 and Choi categories of that truth at every
                    follow-up CT (the reference for the automatic assessment).
follow_up_posterior.csv  per patient, the probability of a Choi response at 2 months and of
                    a RECIST progression by 6 months given what is known before treatment:
                    the ceiling of the response models. NEVER import it.
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
        Cohort size, number of centers (1-6), seed, signal in [0, 1]: of the genotype in the
        images and of the prognostic trait in the recurrence hazard (0 = no signal: the
        negative control; the trait is still rendered).
    matrix
        In-plane pixels (256 demo, 512 clinical; 64-512 allowed, small values for tests);
        each center keeps its field of view, see :mod:`gistcad.synth.centers`.
    scan_length_mm
        Length of the scanned range, mm (lengthened when a tumour needs more).
    workers
        Processes for the images (default: the machine's cores; 1: this process), a local
        Dask cluster's workers (:mod:`gistcad.cluster`, which decides by the patient count
        and ``GISTCAD_CLUSTER`` whether one is started).
    follow_up
        Write the neoadjuvant patients' follow-up CTs, masks, treatment lines and truth.
    treat_everyone
        For tests only (no command-line flag): every patient receives neoadjuvant imatinib
        and has follow-up, so that a cohort of a few patients exercises the follow-up.
    """

    out: Path
    patients: int = 200
    centers: int = 6
    seed: int = 0
    signal: float = 1.0
    matrix: int = 256
    scan_length_mm: float = 200.0
    workers: int | None = None
    follow_up: bool = True
    treat_everyone: bool = False

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
        if not self.treat_everyone:
            data.pop("treat_everyone")  # the default: manifests of older builds stay comparable
        if self.follow_up:
            data.pop("follow_up")  # the default: manifests of older builds stay comparable
            data["follow_up_response"] = {
                "genotype_mean_at_signal_1": {str(k): v for k, v in GENOTYPE_RESPONSE.items()},
                "trait_effect_per_sd": TRAIT_EFFECT * self.signal,
                "noise_sd": NOISE_SD,
            }
        return data


@dataclass(frozen=True)
class BuildSummary:
    out: Path
    patients: int
    centers: dict[str, int]
    ceilings: dict[str, float]
    files: int
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    #: ``rfs_c_clinical`` and ``rfs_c_with_trait``, each {"pooled": C, "<center>": C, ...}
    rfs_ceilings: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientOutput:
    """What rendering one patient leaves besides its files: the truth rows of its follow-up
    (none for an untreated patient) and the measurements of its baseline tumour
    (:func:`~gistcad.synth.observation.measure_patient`)."""

    truth: list[dict[str, Any]]
    measured: dict[str, float]


@dataclass(frozen=True)
class _PatientTask:
    record: dict[str, Any]
    center: CenterProfile
    out: Path
    seed: int
    matrix: int
    scan_length_mm: float
    plan: PatientPlan | None = None


def check_output_folder(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (nothing is overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValidationError(
            f"{out} is not an empty folder; choose a new folder for the cohort (nothing was "
            "written)"
        )


def _patient_rng(seed: int, patient_index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, 1, patient_index]))


def draw_build_cohort(options: BuildOptions) -> tuple[pd.DataFrame, dict[str, CenterProfile]]:
    """The clinical table of the build of ``options`` and its centers by name."""
    profiles = default_centers(options.centers)
    clinical_rng = np.random.default_rng(np.random.SeedSequence([options.seed, 0]))
    cohort = draw_cohort(options.patients, profiles, rng=clinical_rng, signal=options.signal)
    return cohort, {c.name: c for c in profiles}


def render_baseline(
    record: Mapping[str, Any],
    center: CenterProfile,
    *,
    seed: int,
    matrix: int,
    scan_length_mm: float,
) -> RenderedCT:
    """The baseline CT a build of ``seed``, ``matrix`` and ``scan_length_mm`` renders (and
    measures) for one patient's ``record``."""
    return render_ct(
        record,
        center,
        matrix=matrix,
        rng=_patient_rng(seed, int(record["patient_index"])),
        scan_length_mm=scan_length_mm,
    )


def write_patient(task: _PatientTask) -> PatientOutput:
    """Render and write one patient's CT and mask, and the follow-up CTs of a treated
    patient; measures the baseline tumour while its CT is in memory."""
    record, center = task.record, task.center
    hid = str(record["hospital_id"])
    ct = render_baseline(
        record, center, seed=task.seed, matrix=task.matrix, scan_length_mm=task.scan_length_mm
    )
    root = f"gistcad-synth/{task.seed}/{center.name}/{hid}"
    study_date = record["surgery_date"] - dt.timedelta(days=SCAN_TO_SURGERY_DAYS)
    if task.plan is not None:
        study_date = task.plan.baseline_date
    patient_dir = task.out / "centers" / center.name / "dicom" / hid
    uids = (derive_uid(root, "study"), derive_uid(root, "ct"), derive_uid(root, "frame"))
    files = write_ct_slices(
        ct,
        record,
        center,
        patient_dir / "CT",
        study_uid=uids[0],
        series_uid=uids[1],
        frame_of_reference_uid=uids[2],
        uid_root_entropy=root,
        study_date=study_date,
    )
    _write_masks(task, ct, files, [(ct.tumour_mask, None)], root, patient_dir, study_date)
    measured = measure_patient(ct, center, int(record["patient_index"]))
    if task.plan is None:
        return PatientOutput([], measured)
    truth = _truth_rows(task, task.plan.timepoints[0], ct, [ct.tumour_mask])
    for tp in task.plan.timepoints[1:]:
        truth += _write_follow_up(task, tp, root, patient_dir)
    return PatientOutput(truth, measured)


def _write_masks(
    task: _PatientTask,
    ct: RenderedCT,
    files: list[WrittenSlice],
    masks: list[tuple[np.ndarray, LesionState | None]],
    root: str,
    folder: Path,
    study_date: dt.date,
) -> None:
    """The baseline's one mask as before (``lesion`` None), or one mask per lesion; the DICOM
    masks reference the headers of the CT slices just written (``files``), not reread."""
    center, hid = task.center, str(task.record["hospital_id"])
    headers = [f.header for f in files]
    for mask, lesion in masks:
        label = (
            ("GIST tumour", "GIST")
            if lesion is None
            else (f"lesion {lesion.number} {lesion.organ.value}",) * 2
        )
        key = () if lesion is None else (str(lesion.number),)
        if center.mask_format is MaskFormat.DICOM_SEG:
            write_seg(
                mask,
                headers,
                folder / "SEG" / (f"lesion{lesion.number}.dcm" if lesion else "seg.dcm"),
                series_uid=derive_uid(root, "seg", *key),
                sop_uid=derive_uid(root, "seg", "sop", *key),
                study_date=study_date,
                label=label[0],
            )
        elif center.mask_format is MaskFormat.RTSTRUCT:
            write_rtstruct(
                mask,
                headers,
                folder / "RTSTRUCT" / (f"lesion{lesion.number}.dcm" if lesion else "rtstruct.dcm"),
                series_uid=derive_uid(root, "rt", *key),
                sop_uid=derive_uid(root, "rt", "sop", *key),
                study_date=study_date,
                label=label[1],
            )
        else:
            name = (
                f"{hid}.nii.gz"
                if lesion is None
                else f"{hid}_{study_date:%Y%m%d}_lesion{lesion.number}_{lesion.organ.value}.nii.gz"
            )
            write_nifti_mask(mask, ct, task.out / "centers" / center.name / "masks" / name)


def _write_follow_up(
    task: _PatientTask, tp: TimepointPlan, root: str, patient_dir: Path
) -> list[dict[str, Any]]:
    """Render and write follow-up CT ``tp`` (same anatomy stream, changed lesions)."""
    primary, liver = tp.lesions[0], tp.lesions[1:]
    record = {**task.record, "size_cm": primary.size_cm, "enhancement_hu": primary.enhancement_hu}
    ct = render_ct(
        record,
        task.center,
        matrix=task.matrix,
        rng=_patient_rng(task.seed, int(task.record["patient_index"])),
        scan_length_mm=task.scan_length_mm,
        liver_lesions=[
            LiverLesion(10.0 * lesion.size_cm, lesion.enhancement_hu, lesion.offset_mm)
            for lesion in liver
        ],
    )
    visit = f"fu{tp.number}"
    folder = patient_dir / f"FU{tp.number}"
    series_uid = derive_uid(root, visit, "ct")
    files = write_ct_slices(
        ct,
        task.record,
        task.center,
        folder / "CT",
        study_uid=derive_uid(root, visit, "study"),
        series_uid=series_uid,
        frame_of_reference_uid=derive_uid(root, visit, "frame"),
        uid_root_entropy=root,
        study_date=tp.study_date,
    )
    masks = [ct.tumour_mask, *ct.lesion_masks]
    _write_masks(
        task,
        ct,
        files,
        list(zip(masks, tp.lesions, strict=True)),
        f"{root}/{visit}",
        folder,
        tp.study_date,
    )
    return _truth_rows(task, tp, ct, masks)


def _truth_rows(
    task: _PatientTask, tp: TimepointPlan, ct: RenderedCT, masks: list[np.ndarray]
) -> list[dict[str, Any]]:
    assert task.plan is not None
    rows = []
    for lesion, mask in zip(tp.lesions, masks, strict=True):
        diameter = longest_axial_diameter_mm(np.moveaxis(mask, 0, -1), ct.pixel_spacing_mm)
        rows.append(
            {
                "center": task.center.name,
                "hospital_id": str(task.record["hospital_id"]),
                "timepoint": tp.number,
                "study_date": tp.study_date.isoformat(),
                "days_from_start": tp.days_from_start,
                "lesion": lesion.number,
                "organ": lesion.organ.value,
                "role": lesion_role(lesion, diameter).value,
                "new_lesion": int(lesion.new),
                "longest_diameter_mm": round(diameter, 2),
                "mean_hu": round(float(ct.hu[mask].mean()), 2) if mask.any() else float("nan"),
                "trait": round(task.plan.trait, 6),
                "response_score": round(task.plan.response_score, 6),
            }
        )
    return rows


def _tasks(
    cohort: pd.DataFrame,
    centers: Mapping[str, CenterProfile],
    options: BuildOptions,
    plans: Mapping[int, PatientPlan] | None = None,
) -> Iterator[_PatientTask]:
    plans = plans or {}
    for record in cohort.to_dict(orient="records"):
        yield _PatientTask(
            record=record,
            center=centers[record["center"]],
            out=options.out,
            seed=options.seed,
            matrix=options.matrix,
            scan_length_mm=options.scan_length_mm,
            plan=plans.get(int(record["patient_index"])),
        )


def _write_tables(
    cohort: pd.DataFrame,
    centers: Mapping[str, CenterProfile],
    options: BuildOptions,
    plans: Mapping[int, PatientPlan],
    measured: pd.DataFrame,
) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    oracle = reference_posteriors(cohort, signal=options.signal, measurements=measured)
    truth = recurrence_truth(cohort, signal=options.signal)
    oracle = oracle.merge(truth, on="patient_index", how="left", validate="one_to_one")
    oracle.to_csv(options.out / "oracle.csv", index=False, float_format="%.6f", lineterminator="\n")
    # The ceilings of the posterior as written. Unrounded, a posterior that is constant (signal
    # 0) differs between patients in its 16th digit, and AUC ranks those differences: 0.53
    # where oracle.csv, and every evaluation that reads it, gives 0.5.
    written = oracle.round(6)
    pooled = {k: round(v, 6) for k, v in ceiling_aucs(written).items()}
    by_center = ceiling_aucs_by_center(written).round(6)
    references = {
        name: {k: round(v, 6) for k, v in aucs.items()}
        for name, aucs in reference_aucs(written).items()
    }
    survival_truth = written[["patient_index", *RECURRENCE_TRUTH_COLUMNS]]
    rfs = {
        key: {k: round(v, 6) for k, v in values.items()}
        for key, values in rfs_ceilings(cohort, survival_truth).items()
    }
    (options.out / "ceiling.json").write_text(
        json.dumps(
            {
                "pooled": pooled,
                "by_center": json.loads(by_center.to_json(orient="index")),
                "references": references,
                **rfs,
            },
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    if options.follow_up:
        response_posterior(cohort).to_csv(
            options.out / FOLLOW_UP_POSTERIOR, index=False, float_format="%.6f", lineterminator="\n"
        )
    if plans:
        cohort = cohort.assign(neoadjuvant_imatinib=cohort["patient_index"].isin(list(plans)))
    lines = treatment_lines(dict(plans))
    for name, rows in cohort.groupby("center", sort=True):
        folder = options.out / "centers" / str(name)
        write_clinical_table(rows, centers[str(name)], folder)
        mine = lines[lines["hospital_id"].isin(rows["hospital_id"])]
        if len(mine):
            mine.to_csv(folder / TREATMENT_LINES, index=False, lineterminator="\n")
    return pooled, references, rfs


def build_cohort(
    options: BuildOptions, progress: Callable[[int], None] | None = None
) -> BuildSummary:
    """Write the cohort described by ``options``; ``progress(k)`` is called per patient."""
    check_output_folder(options.out)
    cohort, centers = draw_build_cohort(options)
    plans = (
        plan_follow_up(
            cohort, rng=follow_up_rng(options.seed), treat_everyone=options.treat_everyone
        )
        if options.follow_up
        else {}
    )
    options.out.mkdir(parents=True, exist_ok=True)
    truth: list[dict[str, Any]] = []
    measured: list[dict[str, float]] = []
    tasks = list(_tasks(cohort, centers, options, plans))

    def each_patient(message: str, done: int | None = None, total: int | None = None) -> None:
        if progress:
            progress(1)

    # one task per patient (pure but for its own files, which a rerun writes alike): a local
    # cluster of ``workers`` processes for many patients, this process for a few or workers=1
    for output in run_cases(write_patient, tasks, workers=options.workers, progress=each_patient):
        truth += output.truth
        measured.append(output.measured)
    # the tables after the images: the observable reference needs every tumour's measurements
    measurements = pd.DataFrame(measured, columns=list(MEASUREMENT_COLUMNS))
    measurements["patient_index"] = measurements["patient_index"].astype(int)
    ceilings, references, rfs = _write_tables(cohort, centers, options, plans, measurements)
    if options.follow_up:
        frame = pd.DataFrame(truth, columns=list(TRUTH_COLUMNS))
        frame.to_csv(options.out / FOLLOW_UP_TRUTH, index=False, lineterminator="\n")
        truth_categories(frame).to_csv(
            options.out / FOLLOW_UP_CATEGORIES, index=False, lineterminator="\n"
        )
    counts = {str(k): int(v) for k, v in cohort["center"].value_counts().sort_index().items()}
    manifest = {
        "generator": f"gistcad {__version__}",
        "options": options.describe(),
        "patients_by_center": counts,
        "ceilings": ceilings,
        "references": references,
    }
    (options.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (options.out / "README.txt").write_text(
        README.format(version=__version__, options=json.dumps(options.describe()))
    )
    logger.info("synthetic cohort of %d patients written to %s", options.patients, options.out)
    written = sum(1 for path in options.out.rglob("*") if path.is_file())
    return BuildSummary(options.out, options.patients, counts, ceilings, written, references, rfs)
