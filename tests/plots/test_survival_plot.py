"""Kaplan–Meier figures: content (traces, at-risk numbers, annotations, legend), not pixels."""

import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.errors import ValidationError
from gistcad.plots.survival import (
    ROLES,
    UNKNOWN_COLOUR,
    format_p_value,
    km_figure,
    km_panels,
    tick_values,
)

TIMES = [0, 12, 24, 36]
LABELS = {"kit11": "KIT exon 11", "pdgfra": "PDGFRA", "wt": "Wild type"}


def _comparison(seed: int, sizes: dict[str, int]) -> SurvivalComparison:
    cohort = _cohort(seed, sizes)
    return compare_groups(cohort["months"], cohort["event"], cohort["group"], times=TIMES)


def _cohort(seed: int, sizes: dict[str, int]) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames = []
    for group, size in sizes.items():
        event_time = rng.exponential(40, size=size)
        censor_time = rng.uniform(3, 48, size=size)
        frames.append(
            pd.DataFrame(
                {
                    "months": np.minimum(event_time, censor_time).round(1),
                    "event": (event_time <= censor_time).astype(int),
                    "group": group,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def comparison() -> SurvivalComparison:
    return _comparison(1, {"kit11": 30, "pdgfra": 20, "wt": 12})


def _traces(figure: go.Figure, role: str) -> list[go.Scatter]:
    return [trace for trace in figure.data if trace.meta and trace.meta["role"] == role]


def _annotation_texts(figure: go.Figure) -> list[str]:
    """Every line of every annotation, without its HTML tags."""
    return [
        re.sub(r"</?b>", "", line)
        for annotation in figure.layout.annotations
        for line in annotation.text.split("<br>")
    ]


def test_four_traces_per_group(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="RFS by genotype")
    assert len(figure.data) == 4 * 3
    for group in comparison.groups:
        roles = [trace.meta["role"] for trace in figure.data if trace.meta["group"] == group]
        assert roles == list(ROLES)
    assert figure.layout.title.text == "RFS by genotype"


def test_curves_are_steps_with_bands_and_censor_ticks(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t")
    for curve_trace, band, censored in zip(
        _traces(figure, "curve"),
        _traces(figure, "band"),
        _traces(figure, "censored"),
        strict=True,
    ):
        curve = comparison.curves[curve_trace.meta["group"]]
        assert curve_trace.line.shape == "hv"
        np.testing.assert_allclose(curve_trace.y, np.r_[1.0, curve.survival])
        assert band.fill == "toself"
        assert band.fillcolor.startswith("rgba(") and band.fillcolor.endswith(",0.15)")
        assert band.fillcolor == _rgba_of(curve_trace.line.color)
        np.testing.assert_allclose(censored.x, curve.times[curve.n_censored > 0])
        assert censored.marker.symbol == "line-ns-open"
        # the band encloses the curve: its top edge is the upper CI, bottom the lower CI
        assert max(band.y) <= 1.0 and min(band.y) >= 0.0


def _rgba_of(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},0.15)"


def test_at_risk_numbers_under_ticks_across_the_whole_follow_up() -> None:
    cohort = _cohort(1, {"kit11": 30, "pdgfra": 20, "wt": 12})
    comparison = compare_groups(cohort["months"], cohort["event"], cohort["group"], times=TIMES)
    figure = km_figure(comparison, title="t")
    ticks = np.asarray(figure.layout.xaxis.tickvals, dtype=float)
    # from 0 to at least the longest follow-up, evenly spaced by a round step
    assert ticks[0] == 0 and ticks[-1] >= cohort["months"].max()
    assert len(set(np.round(np.diff(ticks), 9))) == 1 and len(ticks) <= 11
    for trace in _traces(figure, "at_risk"):
        months = cohort.loc[cohort["group"] == trace.meta["group"], "months"].to_numpy()
        np.testing.assert_allclose(trace.x, ticks)  # the numbers sit under the ticks
        assert list(trace.text) == [str(int((months >= t).sum())) for t in ticks]
        assert trace.xaxis == "x2"  # second row, sharing the time axis
        # and agree with the comparison's own table where both have a time
        table = comparison.at_risk[comparison.at_risk["group"] == trace.meta["group"]]
        for time, count in zip(table["time"], table["at_risk"], strict=True):
            if np.isclose(ticks, time).any():
                assert trace.text[int(np.argmin(abs(ticks - time)))] == str(count)
    assert figure.layout.xaxis.matches == "x2"


@pytest.mark.parametrize(
    ("last", "expected_step"), [(215.0, 24.0), (47.9, 6.0), (18.0, 2.0), (6000.0, 730.0)]
)
def test_ticks_cover_the_follow_up_with_a_round_step(last: float, expected_step: float) -> None:
    ticks = tick_values(last)
    assert ticks[0] == 0 and ticks[-1] >= last > ticks[-2]
    assert np.allclose(np.diff(ticks), expected_step)


def test_the_at_risk_title_has_a_row_of_its_own(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t")
    title = next(a for a in figure.layout.annotations if a.name == "at_risk_title")
    assert (title.yref, title.y, title.yanchor) == ("y2 domain", 1.0, "top")
    # the table's axis leaves about one row free above its first row for the title
    low, high = figure.layout.yaxis2.range
    rows = len(comparison.groups)
    assert high - (rows - 1) >= 1.2 and low <= -0.5


def test_chosen_at_risk_times_are_a_subset(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t", at_risk_times=[0, 24])
    for trace in _traces(figure, "at_risk"):
        assert list(trace.x) == [0.0, 24.0]
    with pytest.raises(ValidationError, match=r"at_risk_times \[6.0\] are not among"):
        km_figure(comparison, title="t", at_risk_times=[6])


def test_legend_names_carry_n_and_display_labels(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t", group_labels=LABELS)
    legend = [trace.name for trace in figure.data if trace.showlegend is not False]
    assert legend == ["KIT exon 11 (n=30)", "PDGFRA (n=20)", "Wild type (n=12)"]


def test_logrank_annotation_names_the_test(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t")
    assert comparison.logrank is not None
    expected = f"Log-rank {format_p_value(comparison.logrank.p_value)}"
    assert expected in _annotation_texts(figure)
    assert "Number at risk" in _annotation_texts(figure)


def test_without_a_test_the_annotation_says_so() -> None:
    comparison = _comparison(2, {"kit11": 12, "pdgfra": 5})
    figure = km_figure(comparison, title="t")
    assert "Log-rank test not done (see notes)" in _annotation_texts(figure)


@pytest.mark.parametrize(
    ("p_value", "text"),
    [
        (0.0004, "p < 0.001"),
        (0.0123, "p = 0.012"),
        (0.05, "p = 0.05"),
        (0.432, "p = 0.43"),
        (float("nan"), "p not available"),
    ],
)
def test_format_p_value(p_value: float, text: str) -> None:
    assert format_p_value(p_value) == text


def test_panels_side_by_side_share_colours() -> None:
    left = _comparison(3, {"kit11": 30, "pdgfra": 20})
    right = _comparison(4, {"kit11": 25, "pdgfra": 15, "wt": 11})
    figure = km_panels(left, right, ("Predicted genotype", "True genotype"), group_labels=LABELS)
    assert len(figure.data) == 4 * (2 + 3)
    texts = _annotation_texts(figure)
    assert {"Predicted genotype", "True genotype"} <= set(texts)
    assert sum(text.startswith("Log-rank p") for text in texts) == 2
    curves = _traces(figure, "curve")
    colour = {(trace.xaxis, trace.meta["group"]): trace.line.color for trace in curves}
    assert colour[("x", "kit11")] == colour[("x2", "kit11")]
    assert colour[("x", "kit11")] != colour[("x", "pdgfra")]
    right_at_risk = [t for t in _traces(figure, "at_risk") if t.xaxis == "x4"]
    ticks = np.asarray(figure.layout.xaxis2.tickvals, dtype=float)
    assert tuple(ticks) == figure.layout.xaxis.tickvals  # both panels share the ticks
    for trace in right_at_risk:
        table = right.at_risk[right.at_risk["group"] == trace.meta["group"]]
        assert trace.text[0] == str(table["at_risk"].iloc[0])  # everyone at time 0
    assert {trace.name for trace in curves} >= {"KIT exon 11 (n=30)", "KIT exon 11 (n=25)"}


def test_each_panel_has_its_own_legend_under_its_title() -> None:
    left = _comparison(3, {"kit11": 30, "pdgfra": 20})
    right = _comparison(4, {"kit11": 25, "pdgfra": 15})
    figure = km_panels(left, right, ("By predicted status", "By true status"), group_labels=LABELS)
    curves = _traces(figure, "curve")
    by_legend: dict[str, list[str]] = {}
    for trace in curves:
        by_legend.setdefault(trace.legend, []).append(trace.name)
    assert set(by_legend) == {"legend", "legend2"}
    for names in by_legend.values():
        assert len(names) == len(set(names))  # no entry twice within a panel
    assert by_legend["legend"] == ["KIT exon 11 (n=30)", "PDGFRA (n=20)"]
    assert by_legend["legend2"] == ["KIT exon 11 (n=25)", "PDGFRA (n=15)"]
    # each legend sits over its own panel, right under that panel's title
    titles = {a.text: a for a in figure.layout.annotations if a.name == "panel_title"}
    for legend, axis, title in (
        (figure.layout.legend, figure.layout.xaxis, "By predicted status"),
        (figure.layout.legend2, figure.layout.xaxis2, "By true status"),
    ):
        assert legend.x == pytest.approx(axis.domain[0])
        assert titles[f"<b>{title}</b>"].x == pytest.approx(axis.domain[0])
        assert legend.yanchor == "bottom" and titles[f"<b>{title}</b>"].yshift > 0


def _risk_cohort() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    frames = []
    for group, size, scale in [
        ("Very low", 40, 900),
        ("Low", 40, 500),
        ("Intermediate", 40, 250),
        ("High", 40, 120),
        ("Unknown", 10, 300),
    ]:
        event_time = rng.exponential(scale, size=size)
        censor_time = rng.uniform(10, 215, size=size)
        frames.append(
            pd.DataFrame(
                {
                    "months": np.minimum(event_time, censor_time).round(1),
                    "event": (event_time <= censor_time).astype(int),
                    "group": group,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


ORDER = ["Very low", "Low", "Intermediate", "High", "Unknown"]


def _risk_comparison() -> SurvivalComparison:
    cohort = _risk_cohort()
    return compare_groups(
        cohort["months"],
        cohort["event"],
        cohort["group"],
        times=[0, 60],
        order=ORDER,
        ordered=True,
        untested=("Unknown",),
    )


def test_ordered_classes_in_order_with_an_ordered_palette() -> None:
    comparison = _risk_comparison()
    figure = km_figure(comparison, title="t", ordered=True)
    curves = _traces(figure, "curve")
    assert [trace.meta["group"] for trace in curves] == ORDER  # not alphabetical
    colours = [trace.line.color for trace in curves]
    # lowest risk dark blue, then light blue, orange, highest dark red (ColorBrewer RdBu)
    assert colours[:4] == ["#2166AC", "#67A9CF", "#EF8A62", "#B2182B"]
    # unordered groups (no trend test) keep the categorical palette
    plain = _comparison(1, {"kit11": 30, "pdgfra": 20, "wt": 12})
    assert [t.line.color for t in _traces(km_figure(plain, title="t"), "curve")] == [
        "#0072B2",
        "#D55E00",
        "#009E73",
    ]
    assert colours[4] == UNKNOWN_COLOUR and curves[4].line.dash == "dash"
    # the at-risk rows read top to bottom in the same order
    assert list(figure.layout.yaxis2.categoryarray) == ORDER[::-1]


def _hand_median(months: np.ndarray, events: np.ndarray) -> float:
    """Product-limit estimate by hand: the first time S(t) falls to 0.5 or below."""
    survival = 1.0
    for time in np.unique(months[events == 1]):
        at_risk = (months >= time).sum()
        died = ((months == time) & (events == 1)).sum()
        survival *= 1 - died / at_risk
        if survival <= 0.5:
            return float(time)
    return float("nan")


def test_medians_and_hazard_ratios_are_on_the_figure() -> None:
    cohort = _risk_cohort()
    comparison = _risk_comparison()
    figure = km_figure(comparison, title="t", ordered=True)
    lines = _annotation_texts(figure)
    assert comparison.cox is not None
    for group in ("Very low", "Low", "Intermediate", "High"):
        line = next(text for text in lines if text.startswith(f"{group}: median "))
        rows = cohort[cohort["group"] == group]
        median = _hand_median(rows["months"].to_numpy(), rows["event"].to_numpy())
        if np.isfinite(median):
            assert f"median {median:.1f} (" in line
        else:
            assert "median not reached" in line
        if group == comparison.reference:
            assert line.endswith("HR 1 (reference)")
        else:
            row = comparison.cox.table.set_index("level").loc[group]
            assert f"HR {row['hr']:.2f} ({row['ci_lower']:.2f}–{row['ci_upper']:.2f})" in line
    assert any(text.startswith("Log-rank test for trend p") for text in lines)


def _step_value(trace: go.Scatter, t: float) -> float:
    x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
    return float(y[np.searchsorted(x, t, side="right") - 1])


def test_the_p_value_sits_in_a_corner_no_curve_crosses() -> None:
    # curves that stay high: the bottom left corner is free
    comparison = _comparison(1, {"kit11": 30, "pdgfra": 20, "wt": 12})
    figure = km_figure(comparison, title="t")
    box = next(a for a in figure.layout.annotations if a.name == "statistics")
    assert (box.xref, box.yref, box.xanchor, box.yanchor) == (
        "x domain",
        "y domain",
        "left",
        "bottom",
    )
    lines = box.text.count("<br>") + 1
    low, high = figure.layout.xaxis.range
    top = (lines * 15 + 10) / 400 * 1.02  # the box's height as drawn (15 px a line)
    for trace in _traces(figure, "curve"):
        for t in np.linspace(0, low + (high - low) * 0.4, 50):
            if t <= max(trace.x):
                assert _step_value(trace, t) > top
    # a curve that falls to 0 crosses every corner: the statistics go under the table
    crowded = _risk_comparison()
    figure = km_figure(crowded, title="t", ordered=True)
    box = next(a for a in figure.layout.annotations if a.name == "statistics")
    assert (box.yref, box.yanchor, box.y) == ("y2 domain", "top", 0.0)
    assert figure.layout.margin.b >= (box.text.count("<br>") + 1) * 15
