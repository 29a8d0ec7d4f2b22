"""The CT discovery bench's judgement on made-up results (no CT is rendered)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

from tests.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("biomarker_discovery")


TRUTH = [1.0, 3.0, 2.0, 4.0]
FEATURES = pd.DataFrame(
    {
        "grain": [1.0, 2.0, 3.0, 4.0],  # ranks differ from TRUTH's by 0, 1, 1, 0
        "reverse": [4.0, 3.0, 2.0, 1.0],
        "tied": [1.0, 1.0, 2.0, 2.0],
        "flat": [5.0, 5.0, 5.0, 5.0],
    }
)


def test_spearman_against_hand_computation() -> None:
    rho = _bench().spearman(FEATURES, TRUTH)
    # no ties: 1 - 6 Σd² / (n (n² - 1)); grain Σd² = 2, reverse Σd² = 18 (n = 4)
    assert rho["grain"] == pytest.approx(1 - 6 * 2 / 60)
    assert rho["reverse"] == pytest.approx(1 - 6 * 18 / 60)
    # ties: Pearson of the average ranks (1.5, 1.5, 3.5, 3.5) and (1, 3, 2, 4)
    assert rho["tied"] == pytest.approx(2 / np.sqrt(4 * 5))
    assert np.isnan(rho["flat"])


def _table(order: list[str], discovered: list[bool], confirmed: list[bool]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": order,
            "q": np.linspace(0.01, 0.9, len(order)),
            "discovered": discovered,
            "confirmed": confirmed,
        }
    )


def test_a_confirmed_trait_feature_ranked_first_is_the_trait_found() -> None:
    bench = _bench()
    table = _table(["tied", "grain", "reverse"], [True, True, False], [True, False, False])
    run = bench.judge_ct_run(table, FEATURES, TRUTH, seed=3, signal=1.0, events=2)
    assert run.trait_found  # rho 0.447 >= 0.3, confirmed
    assert (run.first, run.first_rho, run.first_confirmed) == (
        "tied",
        pytest.approx(2 / np.sqrt(20)),
        True,
    )
    assert (run.discovered, run.discovered_expressing, run.confirmed) == (2, 2, 1)
    assert (run.best, run.best_rank) == ("grain", 2)  # |0.8| ties "reverse"; the first is kept
    # "flat" was left out by discovery (constant): it has no rank
    assert "rank 2" in bench.format_ct_run(run) and "confirmed 1 (1)" in bench.format_ct_run(run)


def test_a_noise_feature_first_or_an_unconfirmed_trait_feature_is_not_the_trait_found() -> None:
    bench = _bench()
    noise = pd.DataFrame({"noise": [2.0, 1.0, 1.5, 2.5]}).join(FEATURES)  # rho 0.2 with TRUTH
    first_noise = _table(["noise", "grain"], [True, True], [True, True])
    run = bench.judge_ct_run(first_noise, noise, TRUTH, seed=1, signal=1.0, events=2)
    assert abs(run.first_rho) < bench.EXPRESSES and not run.trait_found
    assert run.confirmed_expressing == 1
    unconfirmed = _table(["grain", "noise"], [True, False], [False, False])
    run0 = bench.judge_ct_run(unconfirmed, noise, TRUTH, seed=2, signal=0.0, events=2)
    assert not run0.trait_found
    assert "false discoveries 1, confirmed 0" in bench.format_ct_run(run0)
    summary = bench.format_ct_summary([run, run0])
    assert summary == [
        "signal 1: a trait-expressing feature first and confirmed in 0/1 seeds; any "
        "trait-expressing feature confirmed in 1/1",
        "signal 0: runs with any (false) discovery 1/1, with a confirmed one 0/1",
    ]


def test_a_kept_cohort_reads_back_with_its_features_outcome_adjustment_and_trait(
    tmp_path: Path,
) -> None:
    from gistcad.biomarkers.simulation import RenderedCohort, planted_cohort

    cohort = planted_cohort(40, noise_features=3, seed=2)
    trait = np.linspace(-1.0, 1.0, 40)
    table = _table(["planted", "noise_00"], [True, False], [False, False])
    _bench().keep_cohort(tmp_path / "kept", 7, 0.0, RenderedCohort(cohort, trait), table)

    rows = pd.read_csv(tmp_path / "kept" / "ct40_seed7_signal0_cohort.csv")
    features = rows.filter(like="feature:").rename(columns=lambda c: c.removeprefix("feature:"))
    pd.testing.assert_frame_equal(features, cohort.features, check_dtype=False)
    adjust = rows.filter(like="adjust:").rename(columns=lambda c: c.removeprefix("adjust:"))
    pd.testing.assert_frame_equal(adjust, cohort.covariates, check_dtype=False)
    assert rows["rfs_months"].tolist() == pytest.approx(cohort.durations.tolist())
    assert rows["rfs_event"].tolist() == cohort.events.tolist()
    assert rows["center"].astype(str).tolist() == [str(c) for c in cohort.centers]
    assert rows["prognostic_trait_z"].tolist() == pytest.approx(trait.tolist())
    kept = pd.read_csv(tmp_path / "kept" / "ct40_seed7_signal0_discovery.csv")
    assert kept["feature"].tolist() == ["planted", "noise_00"]

    # --kept reads it back as the cohort it was, with its seed and signal
    back, seed, signal = _bench().read_kept(tmp_path / "kept" / "ct40_seed7_signal0_cohort.csv")
    assert (seed, signal) == (7, 0.0)
    pd.testing.assert_frame_equal(back.cohort.features, cohort.features, check_dtype=False)
    pd.testing.assert_frame_equal(back.cohort.covariates, cohort.covariates, check_dtype=False)
    assert back.cohort.events.tolist() == cohort.events.tolist()
    assert back.cohort.log_size.tolist() == pytest.approx(cohort.log_size.tolist())
    assert back.trait_z.tolist() == pytest.approx(trait.tolist())
