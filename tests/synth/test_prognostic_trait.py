"""The planted prognostic imaging trait: independent of the clinical factors, recovered by a
Cox model at its documented hazard ratio, gone from the hazard at signal 0, visible as the
texture's grain, and the RFS C-index ceilings it sets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy import ndimage

from gistcad.errors import ValidationError
from gistcad.features.extract import extract_features
from gistcad.features.settings import Family, FeatureSettings
from gistcad.synth.centers import DEFAULT_CENTERS
from gistcad.synth.clinical import draw_cohort
from gistcad.synth.observation import measure_tumour
from gistcad.synth.params import DEFAULT_PARAMS
from gistcad.synth.phantom import render_ct
from gistcad.synth.prognosis import (
    CEILING_KEYS,
    lifetime_log_hazard,
    recurrence_truth,
    rfs_ceilings,
)
from gistcad.synth.prognostic_trait import grain_cell_mm, log_hazard_multiplier, trait_rng

N = 2_000
BETA = float(np.log(DEFAULT_PARAMS.trait.hazard_ratio_per_sd))
OUTCOMES = ("rfs_months", "rfs_event", "os_months", "os_event", "last_follow_up")


@pytest.fixture(scope="module")
def signal_one() -> pd.DataFrame:
    return draw_cohort(N, DEFAULT_CENTERS, rng=np.random.default_rng(21), signal=1.0)


@pytest.fixture(scope="module")
def signal_zero() -> pd.DataFrame:
    return draw_cohort(N, DEFAULT_CENTERS, rng=np.random.default_rng(21), signal=0.0)


def _stratified_trait_fit(cohort: pd.DataFrame, signal: float) -> tuple[float, float, float]:
    """log HR of z and its 95 % CI, adjusted for the true clinical linear predictor.

    The cure model is proportional in hazards only within an AFIP cell (and, for treated
    patients, a given length of adjuvant imatinib, which delays recurrence), so the fit is
    stratified by both; ``gistcad.analysis.cox.fit_cox`` has no strata, hence lifelines (as
    for the genotype HR in ``test_clinical.py``).
    """
    truth = recurrence_truth(cohort, signal=signal)
    data = pd.DataFrame(
        {
            "time": cohort["rfs_months"].to_numpy(),
            "event": cohort["rfs_event"].to_numpy(),
            "z": truth["prognostic_trait_z"].to_numpy(),
            "clinical": truth["clinical_linear_predictor"].to_numpy(),
            "afip_cell": np.round(truth["afip_recurrence_probability"].to_numpy(), 4),
            "months": np.nan_to_num(cohort["imatinib_months"].to_numpy(dtype=float)),
        }
    )
    cox = CoxPHFitter().fit(data, "time", "event", strata=["afip_cell", "months"])
    low, high = cox.confidence_intervals_.loc["z"]
    return float(cox.params_["z"]), float(low), float(high)


def test_trait_is_standard_normal_and_independent_of_the_clinical_factors(
    signal_one: pd.DataFrame,
) -> None:
    z = signal_one["prognostic_trait_z"].to_numpy()
    bound = 4.0 / np.sqrt(N)  # 4 standard errors of a correlation (or mean) of 0
    assert abs(z.mean()) < bound and abs(z.std() - 1.0) < 0.05
    for column in ("size_cm", "mitotic_count", "age_years"):
        values = np.log1p(signal_one[column].to_numpy(dtype=float))
        assert abs(np.corrcoef(z, values)[0, 1]) < bound, column
    for column in ("rupture", "sex", "genotype_class", "site", "center"):
        # no group's mean trait is further from 0 than 4 of its standard errors
        groups = signal_one.groupby(column)["prognostic_trait_z"].agg(["mean", "size"])
        assert (groups["mean"].abs() < 4.0 / np.sqrt(groups["size"])).all(), column


def test_trait_draws_nothing_from_the_cohort_stream() -> None:
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    trait_rng(rng)
    assert rng.bit_generator.state == before
    # with the trait's hazard ratio at 1, the cohort is the one drawn with it, outcomes too
    null = replace(DEFAULT_PARAMS, trait=replace(DEFAULT_PARAMS.trait, hazard_ratio_per_sd=1.0))
    planted = draw_cohort(300, DEFAULT_CENTERS, rng=np.random.default_rng(8))
    without = draw_cohort(300, DEFAULT_CENTERS, rng=np.random.default_rng(8), params=null)
    same = [c for c in planted.columns if c not in OUTCOMES]
    pd.testing.assert_frame_equal(planted[same], without[same])
    assert not planted["rfs_months"].equals(without["rfs_months"])  # only the hazard moved


def test_signal_zero_draws_the_same_trait_and_no_effect(
    signal_one: pd.DataFrame, signal_zero: pd.DataFrame
) -> None:
    np.testing.assert_array_equal(
        signal_one["prognostic_trait_z"].to_numpy(), signal_zero["prognostic_trait_z"].to_numpy()
    )
    assert np.all(log_hazard_multiplier(np.linspace(-3, 3, 7), 0.0, DEFAULT_PARAMS) == 0.0)


def test_true_linear_predictor_by_hand() -> None:
    cohort = pd.DataFrame(
        {
            "patient_index": [0, 1],
            "site": ["stomach", "jejunum_ileum"],
            "size_cm": [4.0, 12.0],
            "mitotic_count": [2, 12],
            "rupture": [False, True],
            "genotype_detail": ["kit11_del_557_558", "pdgfra_d842v"],
            "sex": ["female", "male"],
            "imatinib_months": [np.nan, 36.0],
            "prognostic_trait_z": [0.0, 1.0],
        }
    )
    truth = recurrence_truth(cohort, signal=1.0)
    # scale 2.0 · del 557/558 1.7; scale 2.0 · PDGFRA 0.34 · rupture 4 · male 1.25 · 36 mo 0.8
    clinical = np.log([2.0 * 1.7, 2.0 * 0.34 * 4.0 * 1.25 * 0.8])
    np.testing.assert_allclose(truth["clinical_linear_predictor"], clinical, rtol=1e-12)
    # trait: β·z − β²/2 with β = ln 1.8
    trait = np.log(1.8) * np.array([0.0, 1.0]) - 0.5 * np.log(1.8) ** 2
    np.testing.assert_allclose(truth["true_linear_predictor"], clinical + trait, rtol=1e-12)
    # AFIP 2006 (Miettinen & Lasota): gastric 2-5 cm ≤ 5 mitoses 1.9 %; jejunum > 10 cm,
    # > 5 mitoses 90 %
    np.testing.assert_allclose(truth["afip_recurrence_probability"], [0.019, 0.90])
    # P(ever recur) = 1 − (1 − p)^m
    m = np.exp(truth["true_linear_predictor"].to_numpy())
    ever = 1.0 - np.exp(-np.exp(lifetime_log_hazard(np.log(m), np.array([0.019, 0.90]))))
    np.testing.assert_allclose(ever, 1.0 - (1.0 - np.array([0.019, 0.90])) ** m)
    with pytest.raises(ValidationError, match="lacks column"):
        recurrence_truth(cohort.drop(columns="prognostic_trait_z"), signal=1.0)


def test_cox_recovers_the_planted_hazard_ratio(signal_one: pd.DataFrame) -> None:
    log_hr, low, high = _stratified_trait_fit(signal_one, 1.0)
    assert low < BETA < high, (log_hr, low, high)


def test_no_hazard_ratio_at_signal_zero(signal_zero: pd.DataFrame) -> None:
    log_hr, low, high = _stratified_trait_fit(signal_zero, 0.0)
    assert low < 0.0 < high and abs(log_hr) < 0.15, (log_hr, low, high)


def test_rfs_ceilings(signal_one: pd.DataFrame, signal_zero: pd.DataFrame) -> None:
    one = rfs_ceilings(signal_one, recurrence_truth(signal_one, signal=1.0))
    zero = rfs_ceilings(signal_zero, recurrence_truth(signal_zero, signal=0.0))
    centers = {"pooled", *signal_one["center"].unique()}
    for ceilings in (one, zero):
        assert set(ceilings) == set(CEILING_KEYS)
        assert all(set(ceilings[key]) == centers for key in CEILING_KEYS)
    # the trait adds prognosis at signal 1 (0.014-0.019 on 2,000 patients of seeds 1, 2, 3
    # and 21: the clinical factors already rank well; half of that is several SDs of the
    # paired difference) and none at signal 0
    assert one["rfs_c_with_trait"]["pooled"] > one["rfs_c_clinical"]["pooled"] + 0.007
    assert zero["rfs_c_with_trait"] == zero["rfs_c_clinical"]
    assert 0.7 < one["rfs_c_clinical"]["pooled"] < one["rfs_c_with_trait"]["pooled"] < 0.95


def test_grain_cell() -> None:
    assert grain_cell_mm(0.0, DEFAULT_PARAMS) == pytest.approx(3.0)
    assert grain_cell_mm(-1.0, DEFAULT_PARAMS) == pytest.approx(3.0 * np.exp(-0.8))
    assert grain_cell_mm(1.5, DEFAULT_PARAMS) == pytest.approx(3.0 * np.exp(1.2))
    assert grain_cell_mm(-9.0, DEFAULT_PARAMS) == 1.0 and grain_cell_mm(9.0, DEFAULT_PARAMS) == 12.0


RECORD = {
    "sex": "female",
    "site": "stomach",
    "sub_site": "body",
    "size_cm": 5.0,
    "enhancement_hu": 60.0,
    "heterogeneity": 0.6,
    "necrosis_fraction": 0.0,
    "lobulation": 0.3,
    "exophytic": False,
    "calcification": False,
}


def test_trait_is_the_texture_grain_at_the_same_texture_sd() -> None:
    """One tumour per center rendered at three values of the trait, all else equal (the same
    patient stream): the GLCM correlation (d = 1) rises with the trait, the solid part's
    texture SD (what the observable reference measures) does not move with it.

    One tumour's measured SD wanders with the realisation of a coarse grain (a few grains
    across a 5 cm tumour, cut at 30 HU: ±2–3 HU either way, in no fixed direction), so the SD
    is compared on the mean over the six scanners."""
    settings = FeatureSettings(
        bin_width=10.0, resegment_range=(-50.0, 250.0), families=frozenset({Family.GLCM})
    )
    by_z: list[list[float]] = [[], [], []]
    for center in DEFAULT_CENTERS:
        correlation = []
        for i, z in enumerate((-1.5, 0.0, 1.5)):
            ct = render_ct(
                {**RECORD, "prognostic_trait_z": z},
                center,
                matrix=128,
                rng=np.random.default_rng(5),
                scan_length_mm=80.0,
            )
            spacing = (ct.slice_thickness_mm, *ct.pixel_spacing_mm)
            by_z[i].append(measure_tumour(ct.hu, ct.tumour_mask, spacing)["texture_sd"])
            features = extract_features(ct.hu.astype(float), ct.tumour_mask, spacing, settings)
            correlation.append(features["cm_corr_d1_3d_avg"])
        assert correlation[0] + 0.05 < correlation[1] < correlation[2], (center.name, correlation)
    means = [float(np.mean(sds)) for sds in by_z]
    assert np.ptp(means) < 0.06 * means[1], by_z


def test_the_grain_shows_in_a_tumour_of_low_heterogeneity() -> None:
    """The texture floor (``grain_floor_hu``): a tumour of heterogeneity 0.05, whose texture
    alone (1 HU) would sit far below the noisiest scanner's noise, still has a texture SD of
    about the floor and a GLCM correlation that rises with the trait."""
    settings = FeatureSettings(
        bin_width=10.0, resegment_range=(-50.0, 250.0), families=frozenset({Family.GLCM})
    )
    noisiest = max(DEFAULT_CENTERS, key=lambda c: c.noise_sd_hu)
    correlation, texture_sd = [], []
    for z in (-1.5, 1.5):
        ct = render_ct(
            {**RECORD, "heterogeneity": 0.05, "prognostic_trait_z": z},
            noisiest,
            matrix=128,
            rng=np.random.default_rng(5),
            scan_length_mm=80.0,
        )
        spacing = (ct.slice_thickness_mm, *ct.pixel_spacing_mm)
        texture_sd.append(measure_tumour(ct.hu, ct.tumour_mask, spacing)["texture_sd"])
        features = extract_features(ct.hu.astype(float), ct.tumour_mask, spacing, settings)
        correlation.append(features["cm_corr_d1_3d_avg"])
    assert correlation[1] > correlation[0] + 0.1, correlation
    floor = DEFAULT_PARAMS.trait.grain_floor_hu
    assert all(t > 0.6 * floor for t in texture_sd), texture_sd


def test_the_trait_changes_the_tumour_only() -> None:
    """The grain is drawn from the trait's own child of the patient's stream: the rest of the
    image (anatomy, scanner noise) is the one rendered without it, e.g. for a record that has
    no trait (a liver metastasis, or another caller's record)."""
    center = DEFAULT_CENTERS[0]
    plain = render_ct(RECORD, center, matrix=96, rng=np.random.default_rng(3), scan_length_mm=60.0)
    again = render_ct(RECORD, center, matrix=96, rng=np.random.default_rng(3), scan_length_mm=60.0)
    grained = render_ct(
        {**RECORD, "prognostic_trait_z": 0.0},
        center,
        matrix=96,
        rng=np.random.default_rng(3),
        scan_length_mm=60.0,
    )
    np.testing.assert_array_equal(plain.hu, again.hu)
    np.testing.assert_array_equal(plain.tumour_mask, grained.tumour_mask)
    outside = ~ndimage.binary_dilation(plain.tumour_mask, iterations=2)  # past partial volume
    np.testing.assert_array_equal(plain.hu[outside], grained.hu[outside])  # noise unchanged
    inside = plain.tumour_mask
    assert np.abs(plain.hu[inside].astype(float) - grained.hu[inside]).mean() > 5.0
