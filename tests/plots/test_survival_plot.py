"""Kaplan–Meier figures: content (traces, at-risk numbers, annotations, legend), not pixels."""

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from gistcad.analysis.comparison import SurvivalComparison, compare_groups
from gistcad.errors import ValidationError
from gistcad.plots.survival import ROLES, format_p_value, km_figure, km_panels

TIMES = [0, 12, 24, 36]
LABELS = {"kit11": "KIT exon 11", "pdgfra": "PDGFRA", "wt": "Wild type"}


def _comparison(seed: int, sizes: dict[str, int]) -> SurvivalComparison:
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
    cohort = pd.concat(frames, ignore_index=True)
    return compare_groups(cohort["months"], cohort["event"], cohort["group"], times=TIMES)


@pytest.fixture(scope="module")
def comparison() -> SurvivalComparison:
    return _comparison(1, {"kit11": 30, "pdgfra": 20, "wt": 12})


def _traces(figure: go.Figure, role: str) -> list[go.Scatter]:
    return [trace for trace in figure.data if trace.meta and trace.meta["role"] == role]


def _annotation_texts(figure: go.Figure) -> list[str]:
    return [annotation.text for annotation in figure.layout.annotations]


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


def test_at_risk_numbers_equal_the_comparison_table(comparison: SurvivalComparison) -> None:
    figure = km_figure(comparison, title="t")
    for trace in _traces(figure, "at_risk"):
        table = comparison.at_risk[comparison.at_risk["group"] == trace.meta["group"]]
        np.testing.assert_allclose(trace.x, table["time"])
        assert list(trace.text) == [str(n) for n in table["at_risk"]]
        assert trace.xaxis == "x2"  # second row, sharing the time axis
    # time ticks of the curves sit exactly above the at-risk numbers
    assert figure.layout.xaxis.tickvals == tuple(float(t) for t in TIMES)
    assert figure.layout.xaxis.matches == "x2"


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
    for trace in right_at_risk:
        table = right.at_risk[right.at_risk["group"] == trace.meta["group"]]
        assert list(trace.text) == [str(n) for n in table["at_risk"]]
    assert {trace.name for trace in curves} >= {"KIT exon 11 (n=30)", "KIT exon 11 (n=25)"}
