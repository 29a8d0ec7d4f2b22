"""Cohort figures: the bars and histograms hold the cohort's counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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


def _binned(trace: object) -> dict[float, int]:
    return {x: y for x, y in zip(trace.x, trace.y, strict=True) if y}  # type: ignore[attr-defined]


def test_distribution_leaves_out_missing_and_names_n() -> None:
    figure = distribution(COHORT, "size_cm", by="center", title="Size", unit="cm")
    assert [t.name for t in figure.data] == ["A (n=2)", "B (n=2)"]
    # bins of 0.5 cm from 0 (7.5 cm / 20 rounded up to 0.5): 2.0 → [2, 2.5), 5.0 → [5, 5.5)
    assert _binned(figure.data[0]) == {2.25: 1, 5.25: 1}
    assert _binned(figure.data[1]) == {3.25: 1, 7.75: 1}
    overall = distribution(COHORT, "size_cm", title="Size", unit="cm")
    assert overall.data[0].name == "All (n=4)"
    assert sum(overall.data[0].y) == 4


def test_distribution_sends_counts_per_bin_not_values() -> None:
    rng = np.random.default_rng(7)
    sizes = pd.DataFrame(
        {
            "center": rng.choice(["A", "B", "C"], size=5000),
            "size_cm": np.round(rng.gamma(2.0, 3.0, size=5000), 1),
        }
    )
    sizes.loc[::97, "size_cm"] = None
    figure = distribution(sizes, "size_cm", by="center", title="Size", unit="cm")
    high = sizes["size_cm"].max()
    # the round width about a twentieth of the range, the first bin at 0
    width = figure.data[0].width
    assert width in (1.0, 2.0, 5.0) and high / 40 < width <= high / 4
    for trace, (center, part) in zip(figure.data, sizes.groupby("center"), strict=True):
        values = part["size_cm"].dropna().to_numpy()
        edges = np.arange(len(trace.x) + 1) * width  # [0, w), [w, 2w), ...
        expected, _ = np.histogram(values, bins=edges)
        assert list(trace.y) == expected.tolist()
        assert list(trace.x) == pytest.approx((edges[:-1] + width / 2).tolist())
        assert sum(trace.y) == len(values) and trace.name == f"{center} (n={len(values)})"
        # one number per bin, not one per patient
        assert len(trace.y) < 60 < len(values)


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
    bars = figure.data[0]
    assert bars.width == 1.0 and min(bars.x) == 0.5 and max(bars.x) >= 19.0
    assert figure.layout.xaxis.range[0] == 0
    # every value falls in a bin of [0, 1), [1, 2), ...: counted by hand
    assert _binned(bars) == {0.5: 2, 1.5: 1, 2.5: 1, 4.5: 1, 19.5: 1}
    assert sum(bars.y) == len(sizes)
