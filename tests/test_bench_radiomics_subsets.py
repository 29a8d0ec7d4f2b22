"""The subsets bench's draw, its folds and its summary, on hand-made cohorts and rows (no
cohort is built or trained)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.bench_scripts import load_bench


def _bench() -> ModuleType:
    return load_bench("radiomics_subsets")


def test_a_subset_is_reproducible_distinct_and_other_for_each_number_and_cohort() -> None:
    bench = _bench()
    rows = bench.subset_rows(1400, 400, seed=2, subset=0)
    assert rows.size == 400 and np.unique(rows).size == 400
    assert rows.min() >= 0 and rows.max() < 1400 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, bench.subset_rows(1400, 400, seed=2, subset=0))
    other = bench.subset_rows(1400, 400, seed=2, subset=1)
    elsewhere = bench.subset_rows(1400, 400, seed=3, subset=0)
    # 400 of 1,400 twice share about 400 × 400 / 1,400 ≈ 114 patients, never all of them
    assert 60 < np.intersect1d(rows, other).size < 170
    assert 60 < np.intersect1d(rows, elsewhere).size < 170
    with pytest.raises(ValueError, match="a subset of 500 patients from a cohort of 400"):
        bench.subset_rows(400, 500, seed=2, subset=0)


def _cohort(bench: ModuleType, n: int) -> Any:
    """A cohort of ``n`` made-up patients (ids 1000 + row, so that ids are not positions)."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "patient_id": 1000 + np.arange(n),
            "pseudonym": [f"GIST-{i:05d}" for i in range(n)],
            "center": rng.choice(["Lyon", "Milan", "Seoul"], n),
        }
    )
    binary = (rng.random(n) < 0.6).astype(np.int64)
    return bench.Cohort(Path("/nowhere"), table, binary, None, {"observable": 0.7}, seed=2)


def test_a_subset_s_folds_are_dealt_on_its_patients_alone() -> None:
    bench = _bench()
    n = 300
    cohort = _cohort(bench, n)
    table, binary = cohort.table, cohort.binary
    rows = bench.subset_rows(n, 100, seed=2, subset=5)
    part = bench.subset_cohort(cohort, rows, subset=5)
    assert list(part.table["patient_id"]) == list(table["patient_id"].iloc[rows])
    np.testing.assert_array_equal(part.binary, binary[rows])
    assert part.seed == 5 and part.references == {"observable": 0.7}
    assert part.plan.fold.size == 100 and part.plan.known.all()
    tested = np.sort(np.concatenate([test for _, _, test in part.plan.splits()]))
    np.testing.assert_array_equal(tested, np.arange(100))  # every patient tested once
    for _, train, test in part.plan.splits():
        assert set(part.binary[test]) == {0, 1}  # stratified: both classes in every fold
        assert np.intersect1d(train, test).size == 0


def test_the_summary_pairs_the_subsets_and_counts_wins_only_with_the_higher_auc() -> None:
    bench = _bench()
    row = bench.SubsetRow
    rows = [
        row(0, "clinical", 0.55, 400),
        row(0, "six", 0.65, 400, {"clinical": 0.001}),
        row(0, "radiomics", 0.67, 400, {"clinical": 0.001, "six": 0.3}),
        row(1, "clinical", 0.60, 400),
        row(1, "six", 0.64, 400, {"clinical": 0.2}),
        row(1, "radiomics", 0.61, 400, {"clinical": 0.7, "six": 0.1}),
        # significant, but below the clinical model: not a win
        row(2, "clinical", 0.70, 400),
        row(2, "six", 0.66, 400, {"clinical": 0.01}),
        row(2, "radiomics", 0.63, 400, {"clinical": 0.01, "six": 0.2}),
    ]
    lines = bench.summary_lines(rows)
    text = "\n".join(lines)
    assert lines[1].split()[:3] == ["clinical", "3", "0.617"]
    assert lines[3].split()[:3] == ["radiomics", "3", "0.637"]
    # differences +0.02, -0.03, -0.03: mean -0.013, SD 0.029, SE 0.017; 1 of 3 at or above
    assert "radiomics - six: mean -0.013 (SD 0.029, SE 0.017); radiomics >= six in 1 of 3" in text
    assert "six > clinical with DeLong p < 0.05: in 1 of 3 subsets" in text
    assert "radiomics > clinical with DeLong p < 0.05: in 1 of 3 subsets" in text
    assert "radiomics - radiomics-best3" not in text  # not run
    before = [row(s, "radiomics-best3", auc, 400) for s, auc in enumerate([0.60, 0.62, 0.63])]
    # radiomics minus the search before: +0.07, -0.01, 0.00
    text = "\n".join(bench.summary_lines(rows + before))
    assert "radiomics - radiomics-best3: mean +0.020 (SD 0.044, SE 0.025); radiomics >= " in text
    assert "radiomics >= radiomics-best3 in 2 of 3 subsets" in text
    finer = [row(s, "radiomics-bin10", auc, 400) for s, auc in enumerate([0.66, 0.62, 0.66])]
    # the finer bin minus the default: -0.01, +0.01, +0.03
    text = "\n".join(bench.summary_lines(rows + finer))
    assert "radiomics-bin10 - radiomics: mean +0.010 (SD 0.020, SE 0.012)" in text
    assert "radiomics-bin10 >= radiomics in 2 of 3 subsets" in text


def test_each_model_s_scores_meet_their_own_patients(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models' out-of-fold frames come indexed by patient id in any order: each AUC and
    DeLong test reads every patient's score beside that patient's label."""
    bench = _bench()
    cohort = _cohort(bench, 300)
    noise = np.random.default_rng(1)

    def scores(args: Any, part: Any, model: str) -> pd.DataFrame:
        truth = part.binary.astype(float)
        # the clinical model sees the label through noise, "six" sees nothing of it
        score = (
            truth + noise.normal(0, 0.7, truth.size)
            if model == "clinical"
            else noise.random(truth.size)
        )
        frame = pd.DataFrame({"score": score, "center": "Lyon"}, index=part.table["patient_id"])
        seen[model] = frame["score"].to_numpy(), part.binary
        return frame.sample(frac=1.0, random_state=3)  # shuffled

    seen: dict[str, tuple[Any, Any]] = {}
    monkeypatch.setattr(bench, "kit11_scores", scores)
    args = argparse.Namespace(size=120, models=["clinical", "six"])
    clinical, six = bench.measure_subset(args, cohort, 4)
    assert (clinical.model, six.model, clinical.n) == ("clinical", "six", 120)
    for row in (clinical, six):  # the AUC of each patient's own score and label
        score, truth = seen[row.model]
        pairs = score[truth == 1][:, None] - score[truth == 0][None, :]
        assert row.auc == pytest.approx(((pairs > 0) + 0.5 * (pairs == 0)).mean())
    assert clinical.auc > 0.75 and abs(six.auc - 0.5) < 0.15  # not read against others' labels
    assert set(six.delong_p) == {"clinical"} and six.delong_p["clinical"] < 0.01
