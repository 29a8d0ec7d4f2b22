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
from scipy.stats import chi2_contingency

from gistcad.domain import GenotypeClass
from gistcad.synth.build import BuildOptions, build_cohort
from gistcad.synth.centers import default_centers
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.follow_up import (
    CATEGORY_COLUMNS,
    FOLLOW_UP_MONTHS,
    TRUTH_COLUMNS,
    PatientPlan,
    follow_up_rng,
    plan_follow_up,
    plan_frame,
    size_and_density,
    truth_categories,
)
from tests.shared_builds import FOLLOW_UP_COHORT, shared_cohort

OPTIONS = FOLLOW_UP_COHORT


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


def _truth(rows: list[tuple[str, int, int, float, float, bool, str]]) -> pd.DataFrame:
    """Truth rows (hospital id, timepoint, lesion, diameter mm, mean HU, new, organ)."""
    return pd.DataFrame(
        [
            {
                "center": "c1",
                "hospital_id": hid,
                "timepoint": tp,
                "days_from_start": -7 if tp == 0 else 60 * tp,
                "lesion": lesion,
                "organ": organ,
                "new_lesion": int(new),
                "longest_diameter_mm": mm,
                "mean_hu": hu,
            }
            for hid, tp, lesion, mm, hu, new, organ in rows
        ]
    )


def test_truth_categories_apply_recist_and_choi_per_patient_and_timepoint() -> None:
    truth = _truth(
        [
            ("A", 0, 1, 50.0, 60.0, False, "stomach"),
            ("A", 1, 1, 48.0, 45.0, False, "stomach"),  # density -25 %, size -4 %
            ("A", 2, 1, 34.0, 40.0, False, "stomach"),  # size -32 %
            ("A", 3, 1, 36.0, 42.0, False, "stomach"),
            ("A", 3, 2, 12.0, 45.0, True, "liver"),  # a new liver lesion
            ("B", 0, 1, 8.0, 50.0, False, "rectum"),  # not measurable: no target
            ("B", 1, 1, 9.0, 50.0, False, "rectum"),
            ("C", 0, 1, 40.0, 50.0, False, "stomach"),
            ("C", 1, 1, 30.0, 50.0, False, "stomach"),  # nadir 30 mm
            ("C", 2, 1, 38.0, 60.0, False, "stomach"),  # +27 % and +8 mm from the nadir
        ]
    )
    got = truth_categories(truth)
    assert tuple(got.columns) == CATEGORY_COLUMNS
    table = {
        (r.hospital_id, r.timepoint): (r.recist_category, r.choi_category) for r in got.itertuples()
    }
    assert table == {
        ("A", 1): ("sd", "pr"),  # a density drop alone: Choi PR, RECIST SD
        ("A", 2): ("pr", "pr"),
        ("A", 3): ("pd", "pd"),
        ("B", 1): ("non_cr_non_pd", "ne"),  # non-target disease only (RECIST 1.1 Table 2)
        ("C", 1): ("sd", "pr"),  # -25 %: not a RECIST PR, a Choi PR by size
        ("C", 2): ("pd", "sd"),  # RECIST from the nadir; Choi from baseline (-5 %)
    }
    reasons = got.set_index(["hospital_id", "timepoint"])
    assert reasons.loc[("A", 1), "choi_reason"] == "size −4 %, density −25 %"
    assert reasons.loc[("A", 3), "recist_reason"] == "new lesion (liver)"
    assert list(reasons.loc[("A", 1), ["days_from_start"]]) == [60]


def test_truth_categories_count_a_new_node_from_10_mm() -> None:
    # the truth has no short axis: a new lymph node of 8 mm longest diameter has a short axis
    # below 10 mm, so it is normal (RECIST 1.1, 3.1); at 12 mm it counts as a new lesion
    truth = _truth(
        [
            ("D", 0, 1, 50.0, 60.0, False, "stomach"),
            ("D", 1, 1, 50.0, 60.0, False, "stomach"),
            ("D", 1, 2, 8.0, 40.0, True, "lymph_node"),
            ("D", 2, 1, 50.0, 60.0, False, "stomach"),
            ("D", 2, 2, 12.0, 40.0, True, "lymph_node"),
        ]
    )
    got = truth_categories(truth).set_index("timepoint")
    assert list(got["recist_category"]) == ["sd", "pd"]
    assert list(got["choi_category"]) == ["sd", "pd"]
    assert got.loc[2, "recist_reason"] == "new lesion (lymph node)"


def _designed_categories(cohort: pd.DataFrame, plans: dict[int, PatientPlan]) -> pd.DataFrame:
    """Truth categories of the designed sizes (10 x the 3-D diameter in cm, as the longest
    axial diameter) and enhancements (as the mean HU), with each patient's genotype: the
    response model without rendering, so that thousands of patients take seconds."""
    frame = plan_frame(plans)
    truth = frame.assign(
        center="c",
        hospital_id=frame["patient_index"].astype(str),
        longest_diameter_mm=10.0 * frame["size_cm"],
        mean_hu=frame["enhancement_hu"],
    )
    categories = truth_categories(truth)
    info = cohort.set_index("patient_index")
    index = categories["hospital_id"].astype(int)
    return categories.assign(
        genotype_class=info.loc[index, "genotype_class"].to_numpy(),
        genotype_detail=info.loc[index, "genotype_detail"].to_numpy(),
    )


def _choi_pr_at_first_follow_up(categories: pd.DataFrame) -> pd.DataFrame:
    first = categories[categories["timepoint"] == 1]
    return first.assign(pr=first["choi_category"] == "pr")


def test_truth_response_by_genotype_at_signal_1() -> None:
    cohort, plans = _plans(4000, 1.0, seed=5)
    first = _choi_pr_at_first_follow_up(_designed_categories(cohort, plans))
    kit11 = first[first["genotype_class"] == GenotypeClass.KIT11.value]["pr"].mean()
    d842v = first[first["genotype_detail"] == "pdgfra_d842v"]["pr"].mean()
    wild = first[first["genotype_detail"].str.startswith("wt_")]["pr"].mean()
    assert kit11 > 0.8 and kit11 > d842v + 0.4 and kit11 > wild + 0.3, (kit11, d842v, wild)
    last = _designed_categories(cohort, plans).query("timepoint == 3")
    progression = last.groupby("genotype_class")["recist_category"].apply(
        lambda c: (c == "pd").mean()
    )
    assert progression[GenotypeClass.KIT11.value] < progression[GenotypeClass.WT_OTHER.value]


def test_truth_response_rates_do_not_differ_by_genotype_at_signal_0() -> None:
    # seeded: the chi-square test of Choi PR at the first CT (and of RECIST PD at 12 months)
    # against the four genotype classes; with no signal p is uniform, p > 0.01 in 99 % of seeds
    cohort, plans = _plans(4000, 0.0, seed=5)
    categories = _designed_categories(cohort, plans)
    first = _choi_pr_at_first_follow_up(categories)
    assert len(first) > 400
    _, p, _, _ = chi2_contingency(pd.crosstab(first["genotype_class"], first["pr"]))
    assert p > 0.01, p
    last = categories[categories["timepoint"] == 3]
    table = pd.crosstab(last["genotype_class"], last["recist_category"] == "pd")
    assert table.shape == (4, 2)  # both outcomes occur: the test has something to compare
    _, p, _, _ = chi2_contingency(table)
    assert p > 0.01, p


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fu")
    with_fu, without = shared_cohort(tmp_path_factory, **OPTIONS), root / "without"
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
    truth = pd.read_csv(out / "follow_up_truth.csv", dtype={"hospital_id": str})
    assert tuple(truth.columns) == TRUTH_COLUMNS
    categories = pd.read_csv(
        out / "follow_up_categories.csv", dtype={"hospital_id": str}, keep_default_na=False
    )
    assert len(categories) == 3 * len(FOLLOW_UP_MONTHS)
    pd.testing.assert_frame_equal(categories, truth_categories(truth), check_dtype=False)
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
    assert not (without / "follow_up_categories.csv").exists()
