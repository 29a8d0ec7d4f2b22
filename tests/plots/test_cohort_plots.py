"""Cohort figures: the bars and histograms hold the cohort's counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistcad.plots.cohort import UNKNOWN_COLOUR, count_bars, distribution

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
    # labels, not codes; the missing site as "Not recorded", listed last
    assert bars == {
        "Not recorded": {"A": 1, "B": 0},
        "Rectum": {"A": 0, "B": 1},
        "Stomach": {"A": 2, "B": 1},
    }
    assert [t.name for t in figure.data] == ["Rectum", "Stomach", "Not recorded"]
    stomach = next(t for t in figure.data if t.name == "Stomach")
    assert list(stomach.customdata) == [66.7, 50.0]
    assert figure.layout.barmode == "stack"


def test_distribution_leaves_out_missing_and_names_n() -> None:
    figure = distribution(COHORT, "size_cm", by="center", title="Size", unit="cm")
    assert [t.name for t in figure.data] == ["A (n=2)", "B (n=2)"]
    assert sorted(figure.data[0].x) == [2.0, 5.0]
    overall = distribution(COHORT, "size_cm", title="Size", unit="cm")
    assert overall.data[0].name == "All (n=4)"


def test_risk_classes_in_their_order_with_an_ordered_palette() -> None:
    risk = ["High", "Low", "Very low", "Intermediate", "Unknown", "Low", "High"]
    cohort = pd.DataFrame({"center": ["A"] * len(risk), "risk_class": risk})
    figure = count_bars(cohort, "risk_class", by="center", title="Risk")
    assert [t.name for t in figure.data] == ["Very low", "Low", "Intermediate", "High", "Unknown"]
    colours = [t.marker.color for t in figure.data]
    assert colours[0] == "rgb(33, 102, 172)" and colours[3] == "rgb(178, 24, 43)"  # blue → red
    assert colours[4] == UNKNOWN_COLOUR
    assert figure.layout.legend.title.text == "Risk class"


def test_size_histogram_has_no_bar_below_zero() -> None:
    # small tumours: plotly's own bins would start at -0.5 cm
    sizes = pd.DataFrame({"center": ["A"] * 6, "size_cm": [0.3, 0.8, 1.2, 2.0, 4.5, 19.0]})
    figure = distribution(sizes, "size_cm", by="center", title="Size", unit="cm")
    bins = figure.data[0].xbins
    assert bins.start == 0 and bins.size == 1.0 and bins.end >= 19.0
    assert figure.layout.xaxis.range[0] == 0
    # every value falls in a bin of [start, end)
    edges = np.arange(bins.start, bins.end + bins.size / 2, bins.size)
    counts, _ = np.histogram(sizes["size_cm"], bins=edges)
    assert counts.sum() == len(sizes)
