"""The synthetic clinical cohort: column contract, determinism, published targets.

Targets and tolerances (the figures of ``gistcad.synth.params``, measured here on 30,000
patients drawn with adjuvant therapy switched off, i.e. surgery alone):

- site shares within 2 points of §1.2; genotype class shares within 1.5–2 points of §2.2;
- P(> 5 mitoses/50 HPF) 0.25 ± 0.03 gastric, 0.45 ± 0.03 small bowel;
- NIH 2002 high risk 35–45 %;
- Kaplan–Meier RFS 63–72 % at 5 years and 55–65 % at 15 years, < 3 points lost after 10;
- Cox HR of PDGFRA vs KIT (KIT exon 11, 9, 13/17), stratified by AFIP cell, 0.25–0.48
  around the 0.34 of Joensuu 2015 (about ±3 standard errors at this size).

lifelines only measures the generated data here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy.stats import chi2_contingency

from gistcad.analysis.performance import roc_auc
from gistcad.analysis.risk import classify_many
from gistcad.domain import GenotypeDetail, RiskClass, RiskScheme, Sex, Site, genotype_class
from gistcad.errors import ValidationError
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.params import DEFAULT_PARAMS, IMATINIB_SENSITIVE
from gistcad.synth.survival_model import afip_recurrence_probability

N_LARGE = 30_000

EXPECTED_COLUMNS = [
    "patient_index", "center", "hospital_id", "patient_name", "birth_date", "sex",
    "age_years", "site", "sub_site", "genotype_detail", "genotype_class", "size_cm",
    "mitotic_count", "mitotic_unit", "rupture", "histology", "adjuvant_imatinib",
    "imatinib_dose_mg_per_day", "imatinib_months", "surgery_date", "rfs_months", "rfs_event",
    "os_months", "os_event", "last_follow_up", "enhancement_hu", "heterogeneity",
    "necrosis_fraction", "lobulation", "exophytic", "calcification", "prognostic_trait_z",
]  # fmt: skip

SURGERY_ALONE = replace(
    DEFAULT_PARAMS,
    treatment=replace(DEFAULT_PARAMS.treatment, uptake_before=0.0, uptake_after=0.0),
)


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    return draw_cohort(2_000, DEFAULT_CENTERS, rng=np.random.default_rng(7))


@pytest.fixture(scope="module")
def natural_history() -> pd.DataFrame:
    return draw_cohort(
        N_LARGE, DEFAULT_CENTERS, rng=np.random.default_rng(2024), params=SURGERY_ALONE
    )


@pytest.fixture(scope="module")
def negative_control() -> pd.DataFrame:
    return draw_cohort(20_000, DEFAULT_CENTERS, rng=np.random.default_rng(11), signal=0.0)


# --- contract ----------------------------------------------------------------------------------


def test_columns_and_dtypes(small: pd.DataFrame) -> None:
    assert list(small.columns) == EXPECTED_COLUMNS
    assert small["patient_index"].tolist() == list(range(len(small)))
    for column in ("patient_index", "mitotic_count", "rfs_event", "os_event"):
        assert small[column].dtype == np.int64, column
    for column in ("age_years", "size_cm", "imatinib_dose_mg_per_day", "imatinib_months",
                   "rfs_months", "os_months", "enhancement_hu", "heterogeneity",
                   "necrosis_fraction", "lobulation", "prognostic_trait_z"):  # fmt: skip
        assert small[column].dtype == np.float64, column
    for column in ("rupture", "adjuvant_imatinib", "exophytic", "calcification"):
        assert small[column].dtype == bool, column
    for column in ("birth_date", "surgery_date", "last_follow_up"):
        assert all(type(d) is dt.date for d in small[column]), column
    assert set(small["center"]) <= {c.name for c in DEFAULT_CENTERS}
    assert set(small["sex"]) == {s.value for s in Sex}
    assert set(small["site"]) <= {s.value for s in Site}
    assert set(small["mitotic_unit"]) == {"per_50hpf"}
    assert set(small["histology"]) == {"spindle", "epithelioid", "mixed"}
    details = small["genotype_detail"].map(GenotypeDetail)
    assert (details.map(lambda g: str(genotype_class(g))) == small["genotype_class"]).all()


def test_values_are_in_range_and_consistent(small: pd.DataFrame) -> None:
    assert small["hospital_id"].is_unique
    assert small["hospital_id"].str.fullmatch(r"[A-Z]{3}\d{7}").all()
    assert small["patient_name"].str.fullmatch(r"[A-Z ]+\^[A-Z]+").all()
    given = small["patient_name"].str.split("^").str[1]
    assert not set(given[small["sex"] == "male"]) & set(given[small["sex"] == "female"])
    age_days = (pd.to_datetime(small["surgery_date"]) - pd.to_datetime(small["birth_date"])).dt.days
    np.testing.assert_allclose(age_days / 365.25, small["age_years"], atol=1e-9)
    assert small["age_years"].between(18, 95.01).all()
    assert small["size_cm"].between(0.5, 40).all()
    assert pd.to_datetime(small["surgery_date"]).dt.year.between(2005, 2020).all()
    follow_up = pd.to_datetime(small["last_follow_up"]) - pd.to_datetime(small["surgery_date"])
    np.testing.assert_allclose(follow_up.dt.days, small["os_months"] * 365.25 / 12, atol=1.0)
    assert (small["rfs_months"] <= small["os_months"]).all()
    assert (small["os_months"] > 0).all()
    assert small["heterogeneity"].between(0, 1).all() and small["lobulation"].between(0, 1).all()
    assert small["necrosis_fraction"].between(0, 0.8).all()


def test_adjuvant_imatinib_only_for_high_risk_sensitive(small: pd.DataFrame) -> None:
    treated = small[small["adjuvant_imatinib"]]
    untreated = small[~small["adjuvant_imatinib"]]
    assert treated["genotype_detail"].map(GenotypeDetail).isin(IMATINIB_SENSITIVE).all()
    risk, _ = classify_many(
        RiskScheme.MODIFIED_NIH_2008, treated["site"].to_numpy(), treated["size_cm"].to_numpy(),
        treated["mitotic_count"].to_numpy(), treated["rupture"].to_numpy(),
    )  # fmt: skip
    assert (risk == RiskClass.HIGH).all()
    assert (treated["imatinib_dose_mg_per_day"] == 400).all()
    assert set(treated["imatinib_months"]) == {12.0, 36.0}
    assert untreated[["imatinib_dose_mg_per_day", "imatinib_months"]].isna().all().all()
    assert 0.1 < len(treated) / len(small) < 0.4


def test_same_seed_gives_identical_frame() -> None:
    first = draw_cohort(300, DEFAULT_CENTERS, rng=np.random.default_rng(3), signal=0.7)
    again = draw_cohort(300, DEFAULT_CENTERS, rng=np.random.default_rng(3), signal=0.7)
    other = draw_cohort(300, DEFAULT_CENTERS, rng=np.random.default_rng(4), signal=0.7)
    pd.testing.assert_frame_equal(first, again)
    assert not first["size_cm"].equals(other["size_cm"])


def test_single_patient_and_single_center() -> None:
    frame = draw_cohort(1, DEFAULT_CENTERS[:1], rng=np.random.default_rng(0))
    assert len(frame) == 1 and frame.loc[0, "center"] == DEFAULT_CENTERS[0].name


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_rejects_bad_n(n: object) -> None:
    with pytest.raises(ValidationError, match="whole number of patients >= 1"):
        draw_cohort(n, DEFAULT_CENTERS, rng=np.random.default_rng(0))  # type: ignore[arg-type]


@pytest.mark.parametrize("signal", [-0.1, 1.5])
def test_rejects_signal_outside_unit_interval(signal: float) -> None:
    with pytest.raises(ValidationError, match=r"signal is .* must lie in \[0, 1\]"):
        draw_cohort(10, DEFAULT_CENTERS, rng=np.random.default_rng(0), signal=signal)


def test_rejects_no_centers() -> None:
    with pytest.raises(ValidationError, match="at least one CenterProfile"):
        draw_cohort(10, [], rng=np.random.default_rng(0))


# --- published targets -------------------------------------------------------------------------


def test_site_shares(natural_history: pd.DataFrame) -> None:
    shares = natural_history["site"].value_counts(normalize=True)
    for site, expected in DEFAULT_PARAMS.site_shares.items():
        assert shares.get(site.value, 0.0) == pytest.approx(expected, abs=0.02), site
    gastric = (natural_history["site"] == "stomach").groupby(natural_history["center"]).mean()
    assert gastric["Seoul"] - gastric["Boston"] == pytest.approx(0.14, abs=0.04)


def test_genotype_shares(natural_history: pd.DataFrame) -> None:
    shares = natural_history["genotype_class"].value_counts(normalize=True)
    assert shares["kit11"] == pytest.approx(0.66, abs=0.02)
    assert shares["kit9"] == pytest.approx(0.083, abs=0.015)
    assert shares["pdgfra"] == pytest.approx(0.108, abs=0.015)
    assert shares["wt_other"] == pytest.approx(0.15, abs=0.02)
    small_bowel = natural_history["site"].isin(["duodenum", "jejunum_ileum"])
    kit9_small_bowel = (natural_history.loc[small_bowel, "genotype_class"] == "kit9").mean()
    assert kit9_small_bowel == pytest.approx(0.22, abs=0.02)  # §2.1: 22.5 %
    sdh = natural_history["genotype_detail"] == "wt_sdh_deficient"
    assert (natural_history.loc[sdh, "site"] == "stomach").all()
    exon11 = natural_history[natural_history["genotype_class"] == "kit11"]
    assert (exon11["genotype_detail"] == "kit11_del_557_558").mean() == pytest.approx(
        0.32, abs=0.02
    )


def test_mitotic_count_and_nih_risk_mix(natural_history: pd.DataFrame) -> None:
    above5 = natural_history["mitotic_count"] > 5
    gastric = natural_history["site"] == "stomach"
    small_bowel = natural_history["site"].isin(["duodenum", "jejunum_ileum"])
    assert above5[gastric].mean() == pytest.approx(0.25, abs=0.03)
    assert above5[small_bowel].mean() == pytest.approx(0.45, abs=0.03)
    nih, _ = classify_many(
        RiskScheme.NIH_2002, natural_history["site"].to_numpy(),
        natural_history["size_cm"].to_numpy(), natural_history["mitotic_count"].to_numpy(),
    )  # fmt: skip
    assert 0.35 <= (nih == RiskClass.HIGH).mean() <= 0.45
    assert 0.02 <= natural_history["rupture"].mean() <= 0.045
    assert 0.03 <= natural_history["calcification"].mean() <= 0.05


def test_recurrence_free_survival_with_surgery_alone(natural_history: pd.DataFrame) -> None:
    assert not natural_history["adjuvant_imatinib"].any()
    km = KaplanMeierFitter().fit(natural_history["rfs_months"], natural_history["rfs_event"])
    five, ten, fifteen = (float(km.predict(t)) for t in (60.0, 120.0, 180.0))
    assert 0.63 <= five <= 0.72
    assert 0.55 <= fifteen <= 0.65
    assert ten - fifteen < 0.03  # almost no recurrence after 10 years


def test_cox_hazard_ratio_pdgfra_vs_kit(natural_history: pd.DataFrame) -> None:
    """PDGFRA vs KIT-mutant, Cox model stratified by AFIP cell (surgery alone)."""
    frame = natural_history[natural_history["genotype_class"] != "wt_other"]
    frame = pd.concat([frame, natural_history[natural_history["genotype_detail"] == "kit13_17"]])
    afip = afip_recurrence_probability(
        frame["site"].to_numpy(), frame["size_cm"].to_numpy(),
        frame["mitotic_count"].to_numpy(), floor=0.0,
    )  # fmt: skip
    data = pd.DataFrame(
        {
            "time": frame["rfs_months"].to_numpy(),
            "event": frame["rfs_event"].to_numpy(),
            "pdgfra": (frame["genotype_class"] == "pdgfra").astype(float).to_numpy(),
            "afip_cell": np.round(afip, 4),
        }
    )
    cox = CoxPHFitter().fit(data, "time", "event", strata=["afip_cell"])
    assert 0.25 <= float(cox.hazard_ratios_["pdgfra"]) <= 0.48


# --- negative control --------------------------------------------------------------------------


def _auc_half_width(labels: pd.Series, k: float = 4.0) -> float:
    """k standard errors of an AUC of 0.5 (Hanley–McNeil) for these class sizes."""
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return k * float(np.sqrt((n_pos + n_neg + 1) / (12.0 * n_pos * n_neg)))


def test_signal_zero_genotype_independent_of_what_ct_shows(
    negative_control: pd.DataFrame,
) -> None:
    table = pd.crosstab(negative_control["genotype_class"], negative_control["site"])
    assert chi2_contingency(table).pvalue > 0.001
    kit11 = negative_control["genotype_class"] == "kit11"
    pdgfra = negative_control["genotype_class"] == "pdgfra"
    sdh = negative_control["genotype_detail"] == "wt_sdh_deficient"
    for column in ("size_cm", "enhancement_hu", "heterogeneity", "necrosis_fraction",
                   "lobulation", "exophytic", "calcification"):  # fmt: skip
        for labels in (kit11, pdgfra):
            auc = roc_auc(negative_control[column].to_numpy(), labels.to_numpy())
            assert abs(auc - 0.5) < _auc_half_width(labels), column
    for column in ("age_years",):
        auc = roc_auc(negative_control[column].to_numpy(), sdh.to_numpy())
        assert abs(auc - 0.5) < _auc_half_width(sdh)


def test_signal_one_genotype_visible(natural_history: pd.DataFrame) -> None:
    pdgfra = (natural_history["genotype_class"] == "pdgfra").to_numpy()
    auc = roc_auc(-natural_history["enhancement_hu"].to_numpy(), pdgfra)
    assert auc > 0.6
