"""The synthetic follow-up: who is treated, when the CTs are, how lesions respond, the files."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

from gistcad.domain import GenotypeClass
from gistcad.synth.build import BuildOptions, build_cohort
from gistcad.synth.centers import default_centers
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.follow_up import (
    FOLLOW_UP_MONTHS,
    TRUTH_COLUMNS,
    PatientPlan,
    follow_up_rng,
    plan_follow_up,
    plan_frame,
    size_and_density,
)

OPTIONS = {"patients": 16, "centers": 6, "seed": 17, "matrix": 64, "scan_length_mm": 50.0}


def _plans(n: int, signal: float, seed: int = 0) -> tuple[pd.DataFrame, dict[int, PatientPlan]]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    cohort = draw_cohort(n, default_centers(6), rng=rng, signal=signal)
    return cohort, plan_follow_up(cohort, rng=follow_up_rng(seed))


def _change_at_12_months(cohort: pd.DataFrame, plans: dict[int, PatientPlan]) -> pd.DataFrame:
    frame = plan_frame(plans)
    primary = frame[frame["lesion"] == 1].pivot(
        index="patient_index", columns="timepoint", values=["size_cm", "enhancement_hu"]
    )
    out = pd.DataFrame(
        {
            "log_size": np.log(primary[("size_cm", 3)] / primary[("size_cm", 0)]),
            "size_2m": primary[("size_cm", 1)] / primary[("size_cm", 0)] - 1,
            "density_2m": primary[("enhancement_hu", 1)] / primary[("enhancement_hu", 0)] - 1,
        }
    )
    info = cohort.set_index("patient_index").loc[out.index]
    out["genotype_class"] = info["genotype_class"].to_numpy()
    out["genotype_detail"] = info["genotype_detail"].to_numpy()
    out["trait"] = frame.drop_duplicates("patient_index").set_index("patient_index")["trait"]
    return out


def test_plan_dates_and_who_is_treated() -> None:
    cohort, plans = _plans(600, 1.0)
    assert 0.05 < len(plans) / len(cohort) < 0.4
    big = cohort.set_index("patient_index")["size_cm"] >= 10
    treated = pd.Series(False, index=big.index)
    treated[list(plans)] = True
    assert treated[big].mean() > 0.45 and treated[~big].mean() < 0.25
    for index, plan in plans.items():
        surgery = pd.Timestamp(cohort.loc[index, "surgery_date"]).date()
        dates = [tp.study_date for tp in plan.timepoints]
        assert [tp.number for tp in plan.timepoints] == [0, 1, 2, 3]
        assert all(a < b for a, b in itertools.pairwise(dates))
        assert dates[0] < plan.start < dates[1] and dates[-1] < plan.stop < surgery
        assert dates[-1] == surgery - dt.timedelta(days=21)
        days = [tp.days_from_start for tp in plan.timepoints]
        assert days == [-7, *(round(m * 365.25 / 12) for m in FOLLOW_UP_MONTHS)]
        assert all(lesion.new for tp in plan.timepoints for lesion in tp.lesions[1:])


def test_response_follows_genotype_and_the_baseline_trait_at_signal_1() -> None:
    cohort, plans = _plans(8000, 1.0)
    change = _change_at_12_months(cohort, plans)
    mean = change.groupby("genotype_detail")["log_size"].mean()
    kit11 = change[change["genotype_class"] == GenotypeClass.KIT11.value]
    assert kit11["log_size"].mean() < mean["kit9"] < mean["pdgfra_d842v"]
    assert mean["pdgfra_d842v"] > 0  # D842V progresses
    # KIT exon 11: at 2 months the density falls more than the size (the Choi pattern)
    assert kit11["density_2m"].mean() < kit11["size_2m"].mean() < 0
    assert kit11["density_2m"].mean() < -0.2
    # the baseline trait predicts response beyond the genotype
    assert np.corrcoef(kit11["trait"], kit11["log_size"])[0, 1] < -0.2


def test_signal_0_makes_response_independent_of_genotype_and_image() -> None:
    cohort, plans = _plans(8000, 0.0, seed=3)
    change = _change_at_12_months(cohort, plans)
    pooled = change["log_size"]
    for name, group in change.groupby("genotype_class"):
        se = pooled.std() / np.sqrt(len(group))
        assert abs(group["log_size"].mean() - pooled.mean()) < 4 * se, name
    r = np.corrcoef(change["trait"], pooled)[0, 1]
    assert abs(r) < 4 / np.sqrt(len(change))


def test_size_and_density_curves() -> None:
    size, density = size_and_density(1.5, 2.0)
    assert density < size < 0  # early density drop larger than the size drop
    grow, _ = size_and_density(-1.5, 12.0)
    assert grow > np.log(1.2)  # a strong progressor grows > 20 % in a year


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fu")
    with_fu, without = root / "with", root / "without"
    build_cohort(BuildOptions(out=with_fu, workers=1, **OPTIONS))  # type: ignore[arg-type]
    build_cohort(BuildOptions(out=without, workers=1, follow_up=False, **OPTIONS))  # type: ignore[arg-type]
    return with_fu, without


def _dicom_dates(folder: Path) -> set[tuple[str, str, str]]:
    out = set()
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        out.add((ds.StudyDate, ds.SeriesDate, ds.StudyInstanceUID))
    return out


def test_follow_up_studies_for_treated_patients_only(built: tuple[Path, Path]) -> None:
    out, _ = built
    truth = pd.read_csv(out / "follow_up_truth.csv")
    assert tuple(truth.columns) == TRUTH_COLUMNS
    treated = set(truth["hospital_id"])
    with_fu = {p.parent.name for p in out.glob("centers/*/dicom/*/FU1")}
    assert with_fu == treated and len(treated) == 3
    assert not list(out.glob("centers/*/dicom/*/FU4"))
    lines = pd.concat(pd.read_csv(p) for p in out.glob("centers/*/treatment_lines.csv"))
    assert set(lines["hospital_id"]) == treated
    for hid in treated:
        patient = next(out.glob(f"centers/*/dicom/{hid}"))
        studies = [_dicom_dates(patient / "CT")]
        studies += [_dicom_dates(patient / f"FU{k}" / "CT") for k in (1, 2, 3)]
        assert all(len(s) == 1 for s in studies)  # one study, one date per series
        dates = [next(iter(s))[0] for s in studies]
        assert dates == sorted(dates) and len(set(dates)) == 4
        assert [next(iter(s))[1] for s in studies] == dates  # SeriesDate too
        assert len({next(iter(s))[2] for s in studies}) == 4  # new StudyInstanceUIDs
        mine = truth[truth["hospital_id"] == hid]
        assert sorted(set(mine["study_date"].str.replace("-", ""))) == dates
        ids = {
            pydicom.dcmread(p, stop_before_pixels=True).PatientID for p in patient.rglob("*.dcm")
        }
        assert ids == {hid}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_baseline_is_unchanged_by_the_follow_up(built: tuple[Path, Path]) -> None:
    with_fu, without = built
    treated = set(pd.read_csv(with_fu / "follow_up_truth.csv")["hospital_id"])
    for path in sorted((without / "centers").rglob("*")):
        if not path.is_file() or path.name.startswith("clinical."):
            continue
        relative = path.relative_to(without)
        other = with_fu / relative
        if not any(hid in relative.parts for hid in treated):
            assert _digest(other) == _digest(path), relative
        elif path.suffix == ".dcm" and "CT" in relative.parts:  # baseline CT re-dated only
            a, b = pydicom.dcmread(path), pydicom.dcmread(other)
            assert a.PixelData == b.PixelData and a.StudyDate != b.StudyDate
    assert (with_fu / "oracle.csv").read_bytes() == (without / "oracle.csv").read_bytes()
    assert not (without / "follow_up_truth.csv").exists()
