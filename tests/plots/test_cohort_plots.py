"""Cohort figures: the bars and histograms hold the cohort's counts."""

from __future__ import annotations

import pandas as pd

from gistcad.plots.cohort import count_bars, distribution

COHORT = pd.DataFrame(
    {
        "center": ["A", "A", "A", "B", "B"],
        "site": ["stomach", "stomach", None, "rectum", "stomach"],
        "size_cm": [2.0, 5.0, None, 7.5, 3.0],
    }
)


def test_count_bars_stack_levels_within_each_group() -> None:
    figure = count_bars(COHORT, "site", by="center", title="Site by center")
    bars = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in figure.data}
    assert bars == {
        "missing": {"A": 1, "B": 0},
        "rectum": {"A": 0, "B": 1},
        "stomach": {"A": 2, "B": 1},
    }
    stomach = next(t for t in figure.data if t.name == "stomach")
    assert list(stomach.customdata) == [66.7, 50.0]
    assert figure.layout.barmode == "stack"


def test_distribution_leaves_out_missing_and_names_n() -> None:
    figure = distribution(COHORT, "size_cm", by="center", title="Size", unit="cm")
    assert [t.name for t in figure.data] == ["A (n=2)", "B (n=2)"]
    assert sorted(figure.data[0].x) == [2.0, 5.0]
    overall = distribution(COHORT, "size_cm", title="Size", unit="cm")
    assert overall.data[0].name == "All (n=4)"
