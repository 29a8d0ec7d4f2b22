"""Discovery against the synthetic generator's own planted trait (tabular, no CT).

The cohorts are :func:`gistcad.biomarkers.simulation.generated_cohort`: the generator's clinical
factors, survival and ``prognostic_trait_z`` (HR 1.8 per SD at signal 1), the trait observed
with measurement noise (SD 0.5) among size-linked and noise features.
"""

from __future__ import annotations

from gistcad.biomarkers.simulation import generated_cohort
from tests.discovery_runs import discover_cohort


def test_at_signal_one_the_trait_ranks_first_and_is_confirmed_on_held_out_centers() -> None:
    # 900 patients in 3 centers (about 230 recurrences), adjusted for risk and the AFIP cell:
    # measured over seeds 0-19, the trait ranked first and was discovered (q < 0.1) and
    # confirmed in 20 of 20; with the earlier, log-size-only features and linear adjustment,
    # 38 of 40, and at 600 patients 18 of 20 and not always first. Seeds 0-9 are required to
    # rank it first in all and to confirm it in at least 9.
    runs = [discover_cohort(generated_cohort(900, signal=1.0, seed=seed)) for seed in range(10)]
    assert all(found.table.iloc[0]["feature"] == "trait" for found in runs)
    tops = [found.table.iloc[0] for found in runs]
    assert sum(bool(top["q"] < 0.1 and top["confirmed"]) for top in tops) >= 9
    assert all(top["hr"] > 1.2 for top in tops)


def test_at_signal_zero_the_trait_is_not_discovered() -> None:
    # With no effect the trait is one of 24 null features: it is discovered only when BH
    # finds something at all (at most about 1 run in 10) and it is the one found. Rule:
    # discovered in at most 2 of 20 seeds, and nothing is discovered in at least 16 of 20.
    runs = [discover_cohort(generated_cohort(600, signal=0.0, seed=seed)) for seed in range(20)]
    trait_found = sum(
        bool(found.table.set_index("feature").loc["trait", "discovered"]) for found in runs
    )
    assert trait_found <= 2
    assert sum(not found.discovered for found in runs) >= 16
