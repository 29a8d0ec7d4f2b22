"""The risk-score bench's ceiling logic on made-up results (no cohort is built or trained)."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("imaging_risk_score")


CEILING_JSON = {
    "pooled": {"latent": 0.8},
    "rfs_c_clinical": {"pooled": 0.75, "Center A": 0.7},
    "rfs_c_with_trait": {"pooled": 0.8, "Center A": 0.78},
}


def test_the_pooled_ceilings_are_read_and_missing_ones_left_out() -> None:
    bench = _bench()
    assert bench.ceilings_of(CEILING_JSON) == {"rfs_c_clinical": 0.75, "rfs_c_with_trait": 0.8}
    assert bench.ceilings_of({"pooled": {"latent": 0.8}}) == {}


def test_ratios_to_both_ceilings_and_no_flag_within_sampling_error() -> None:
    bench = _bench()
    ceilings = bench.ceilings_of(CEILING_JSON)
    # C 0.82 above the ceiling 0.80, but its CI reaches down to 0.78: within sampling error
    check = bench.check_ceiling(0.82, 0.78, ceilings)
    assert check.ratio_with_trait == pytest.approx(0.82 / 0.8)
    assert check.ratio_clinical == pytest.approx(0.82 / 0.75)
    assert not check.above_ceiling
    assert "HONESTY" not in check.text()
    assert "C/rfs_c_with_trait 1.025" in check.text()


def test_a_c_above_the_ceiling_beyond_sampling_error_is_flagged_loudly() -> None:
    bench = _bench()
    check = bench.check_ceiling(0.9, 0.81, bench.ceilings_of(CEILING_JSON))
    assert check.above_ceiling
    assert "HONESTY VIOLATION" in check.text()


def test_without_the_ceilings_the_ratios_are_not_available_and_nothing_is_flagged() -> None:
    bench = _bench()
    check = bench.check_ceiling(0.99, 0.98, {})
    assert check.ratio_with_trait is None and check.ratio_clinical is None
    assert not check.above_ceiling
    assert "C/rfs_c_with_trait n/a" in check.text()
