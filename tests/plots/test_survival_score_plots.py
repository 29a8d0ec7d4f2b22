"""The risk score's figures: one ΔC trace per scheme with its CI, calibration by group."""

from __future__ import annotations

import pandas as pd
import pytest

from gistcad.plots.survival_score import delta_c_forest, survival_calibration_figure

DELTAS = pd.DataFrame(
    {
        "center": ["Alpha", "Alpha", "All centers", "All centers"],
        "reference": ["Modified NIH 2008", "Tumour size alone"] * 2,
        "n": [40, 40, 80, 80],
        "delta_c": [0.02, 0.05, 0.01, 0.04],
        "ci_lower": [-0.05, 0.0, -0.03, 0.01],
        "ci_upper": [0.09, 0.1, 0.05, 0.07],
        "p": [0.5, 0.06, 0.6, 0.01],
    }
)


def test_delta_c_forest_has_a_trace_per_scheme_with_asymmetric_intervals() -> None:
    figure = delta_c_forest(DELTAS, title="ΔC")
    assert [t.name for t in figure.data] == [
        "vs Modified NIH 2008 (95 % CI)",
        "vs Tumour size alone (95 % CI)",
    ]
    nih = figure.data[0]
    assert list(nih.x) == [0.02, 0.01]
    assert list(nih.error_x.array) == pytest.approx([0.07, 0.04])
    assert list(nih.error_x.arrayminus) == pytest.approx([0.07, 0.04])
    assert list(figure.layout.yaxis.ticktext) == ["Alpha", "All centers"]  # first center on top
    assert figure.layout.yaxis.tickvals[0] > figure.layout.yaxis.tickvals[1]


def test_calibration_figure_puts_each_group_at_predicted_against_observed() -> None:
    calibration = {
        "time": 60.0,
        "groups": [
            {"group": "Low", "n": 20, "predicted": 0.9, "observed": 0.95}
            | {"observed_lower": 0.8, "observed_upper": 0.99},
            {"group": "High", "n": 20, "predicted": 0.5, "observed": None}
            | {"observed_lower": None, "observed_upper": None},
        ],
    }
    figure = survival_calibration_figure(calibration, title="Calibration")
    points = figure.data[1]
    assert list(points.x) == [0.9, 0.5]
    assert points.y[0] == 0.95 and points.y[1] != points.y[1]  # not estimable: NaN, not drawn
    assert list(points.text) == ["Low (n=20)", "High (n=20)"]
    assert "60 months" in figure.layout.xaxis.title.text
