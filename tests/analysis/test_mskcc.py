"""The MSKCC-like calculator: calibration targets and the shape of its predictions.

Targets (gist_facts.md section 4): DeMatteo et al., Cancer 2008;112:608 (the 127-patient
development cohort of Gold et al., Lancet Oncol 2009;10:1045): RFS 83 / 75 / 63 % at
1 / 2 / 5 years; hazard ratio 14.6 for a mitotic index >= 5/50 HPF; small-bowel site
an independent adverse factor.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from gistcad.analysis.mskcc import (
    BASELINE,
    MSKCC_LIKE_LABEL,
    REFERENCE_MIX,
    MskccLikeEstimate,
    MskccSite,
    calibrate_baseline,
    mean_rfs,
    mskcc_like_rfs,
    mskcc_like_rfs_curve,
    mskcc_site,
)
from gistcad.domain import Site
from gistcad.errors import ValidationError


def test_calibration_reproduces_the_module_constants():
    fitted = calibrate_baseline()
    assert fitted.rate == pytest.approx(BASELINE.rate, rel=1e-4)
    assert fitted.shape == pytest.approx(BASELINE.shape, rel=1e-4)


@pytest.mark.parametrize(("years", "target"), [(2.0, 0.75), (5.0, 0.63)])
def test_constants_reproduce_dematteo_rfs_in_the_reference_mix(years, target):
    assert mean_rfs(years, REFERENCE_MIX, BASELINE) == pytest.approx(target, abs=0.001)


def test_one_year_rfs_agrees_with_dematteo_although_not_a_target():
    assert mean_rfs(1.0, REFERENCE_MIX, BASELINE) == pytest.approx(0.83, abs=0.01)


def test_hazard_ratio_of_mitotic_index_is_14_6():
    low = mskcc_like_rfs(size_cm=6, site=Site.STOMACH, mitotic_index_ge_5=False)
    high = mskcc_like_rfs(size_cm=6, site=Site.STOMACH, mitotic_index_ge_5=True)
    assert high.hazard_ratio / low.hazard_ratio == pytest.approx(14.6)
    # proportional hazards: log S_high / log S_low is the hazard ratio at every time
    assert math.log(high.rfs_5y) / math.log(low.rfs_5y) == pytest.approx(14.6)


def test_reference_patient_has_hazard_ratio_one():
    reference = mskcc_like_rfs(size_cm=5, site=Site.STOMACH, mitotic_index_ge_5=False)
    assert reference.hazard_ratio == pytest.approx(1.0)
    assert reference.rfs_2y == pytest.approx(math.exp(-BASELINE.rate * 2**BASELINE.shape))


@pytest.mark.parametrize("site", list(Site))
@pytest.mark.parametrize("mi", [False, True])
def test_rfs_decreases_with_size(site, mi):
    sizes = [0.5, 1, 2, 3, 5, 8, 10, 15, 20, 30]
    estimates = [mskcc_like_rfs(size_cm=s, site=site, mitotic_index_ge_5=mi) for s in sizes]
    for attribute in ("rfs_2y", "rfs_5y"):
        values = np.array([getattr(e, attribute) for e in estimates])
        assert np.all(np.diff(values) < 0), attribute


@pytest.mark.parametrize("size", [1, 5, 12])
@pytest.mark.parametrize("site", list(Site))
def test_mitotic_index_ge_5_lowers_rfs(size, site):
    low = mskcc_like_rfs(size_cm=size, site=site, mitotic_index_ge_5=False)
    high = mskcc_like_rfs(size_cm=size, site=site, mitotic_index_ge_5=True)
    assert high.rfs_2y < low.rfs_2y
    assert high.rfs_5y < low.rfs_5y


@pytest.mark.parametrize("mi", [False, True])
def test_site_ordering_small_bowel_colorectum_other_stomach(mi):
    order = [Site.JEJUNUM_ILEUM, Site.COLON, Site.OTHER, Site.STOMACH]  # worst to best
    rfs = [mskcc_like_rfs(size_cm=6, site=s, mitotic_index_ge_5=mi).rfs_5y for s in order]
    assert rfs == sorted(rfs)
    assert len(set(rfs)) == 4


@pytest.mark.parametrize(
    ("site", "group"),
    [
        (Site.STOMACH, MskccSite.STOMACH),
        (Site.DUODENUM, MskccSite.SMALL_INTESTINE),
        (Site.JEJUNUM_ILEUM, MskccSite.SMALL_INTESTINE),
        (Site.COLON, MskccSite.COLON_RECTUM),
        (Site.RECTUM, MskccSite.COLON_RECTUM),
        (Site.OESOPHAGUS, MskccSite.OTHER),
        (Site.OTHER, MskccSite.OTHER),
    ],
)
def test_site_groups_of_the_nomogram(site, group):
    assert mskcc_site(site) is group


@pytest.mark.parametrize("site", list(Site))
@pytest.mark.parametrize("mi", [False, True])
def test_label_on_every_output(site, mi):
    estimate = mskcc_like_rfs(size_cm=4, site=site, mitotic_index_ge_5=mi)
    assert estimate.label == MSKCC_LIKE_LABEL
    assert estimate.label == "MSKCC-like approximation — not the official nomogram"
    assert 0 < estimate.rfs_5y < estimate.rfs_2y < 1


def test_label_cannot_be_overridden():
    with pytest.raises(TypeError, match="label"):
        MskccLikeEstimate(
            size_cm=1.0,
            site=Site.STOMACH,
            mitotic_index_ge_5=False,
            hazard_ratio=1.0,
            rfs_2y=0.9,
            rfs_5y=0.8,
            label="official nomogram",
        )


def test_curve_starts_at_one_and_matches_the_point_estimates():
    curve = mskcc_like_rfs_curve(
        [0, 2, 5], size_cm=7, site=Site.JEJUNUM_ILEUM, mitotic_index_ge_5=True
    )
    estimate = mskcc_like_rfs(size_cm=7, site=Site.JEJUNUM_ILEUM, mitotic_index_ge_5=True)
    np.testing.assert_allclose(curve, [1.0, estimate.rfs_2y, estimate.rfs_5y])


@pytest.mark.parametrize("size", [0, -2, math.nan, math.inf])
def test_invalid_size_is_refused(size):
    with pytest.raises(ValidationError, match="size_cm"):
        mskcc_like_rfs(size_cm=size, site=Site.STOMACH, mitotic_index_ge_5=False)


def test_mitotic_index_must_be_a_boolean():
    with pytest.raises(ValidationError, match="mitotic_index_ge_5"):
        mskcc_like_rfs(size_cm=3, site=Site.STOMACH, mitotic_index_ge_5=7)


def test_negative_times_are_refused():
    with pytest.raises(ValidationError, match="years"):
        mskcc_like_rfs_curve([-1], size_cm=3, site=Site.STOMACH, mitotic_index_ge_5=False)


def test_calibration_refuses_a_mix_whose_shares_do_not_sum_to_one():
    bad = dataclasses.replace(REFERENCE_MIX, site_shares={MskccSite.STOMACH: 0.5})
    with pytest.raises(ValidationError, match="sum to"):
        calibrate_baseline(bad)
