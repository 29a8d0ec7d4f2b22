"""Performance figures hold the numbers they were given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistcad.modelling.assessment import CEILING, SYNTHETIC_REFERENCES
from gistcad.plots.markers import CEILING_MARKER, MODEL_MARKERS, SYNTHETIC_MARKERS, is_reference
from gistcad.plots.performance import (
    auc_forest,
    comparison_forest,
    confusion_figure,
    reliability_figure,
    roc_figure,
)


def test_roc_figure_one_curve_per_center_and_chance() -> None:
    figure = roc_figure(
        {
            "A": (np.array([0, 0.5, 1]), np.array([0, 1, 1]), 0.75),
            "All centers": (np.array([0, 1]), np.array([0, 1]), 0.5),
        },
        title="ROC",
    )
    assert [t.name for t in figure.data] == ["chance", "A (AUC 0.75)", "All centers (AUC 0.50)"]


def test_forest_has_intervals_and_reference_markers() -> None:
    rows = pd.DataFrame(
        {
            "center": ["A", "B", "All centers"],
            "auc": [0.7, 0.6, 0.65],
            "auc_ci_lower": [0.6, np.nan, 0.6],
            "auc_ci_upper": [0.8, np.nan, 0.7],
            "n": [50, 8, 58],
        }
    )
    figure = auc_forest(
        rows, title="AUC", references={"ceiling": {"A": 0.8, "All centers": 0.79, "B": np.nan}}
    )
    model, ceiling = figure.data
    assert np.allclose(model.error_x.array, [0.1, 0.0, 0.05])
    assert list(ceiling.y) == ["All centers", "A"] and list(ceiling.x) == [0.79, 0.8]


def test_reliability_and_confusion() -> None:
    reliability = reliability_figure([(0.1, 0.12, 30), (0.8, 0.7, 10)], title="Calibration")
    assert list(reliability.data[1].x) == [0.1, 0.8]
    assert list(reliability.data[1].text) == ["n=30 (75%)", "n=10 (25%)"]  # bin sizes
    matrix = pd.DataFrame([[5, 1], [2, 7]], index=["a", "b"], columns=["a", "b"])
    heat = confusion_figure(matrix, title="Confusion")
    # each cell: its count and its share of the true class (5 of 6, 7 of 9)
    assert np.allclose(heat.data[0].z, [[5 / 6, 1 / 6], [2 / 9, 7 / 9]])
    assert [list(row) for row in heat.data[0].text] == [
        ["5<br>83%", "1<br>17%"],
        ["2<br>22%", "7<br>78%"],
    ]
    assert list(heat.data[0].y) == ["a (n=6)", "b (n=9)"]


def test_every_forest_takes_its_markers_from_the_one_table() -> None:
    rows = pd.DataFrame(
        {
            "center": ["A", "All centers"],
            "auc": [0.7, 0.65],
            "auc_ci_lower": [0.6, 0.6],
            "auc_ci_upper": [0.8, 0.7],
            "n": [50, 58],
        }
    )
    single = auc_forest(
        rows, title="AUC", references={"other (radiomics)": {"A": 0.6}, CEILING: {"A": 0.8}}
    )
    table = pd.concat([rows.assign(model="this"), rows.assign(model="other")])
    many = comparison_forest(table, title="AUC", references={CEILING: {"A": 0.8}})
    for figure in (single, many):
        shown, other, ceiling = figure.data
        assert (shown.marker.symbol, shown.marker.color) == ("square", MODEL_MARKERS[0].color)
        assert (other.marker.symbol, other.marker.color) == ("circle", MODEL_MARKERS[1].color)
        assert ceiling.marker.symbol == CEILING_MARKER.symbol == "diamond-open"
    # the comparison: one row per model within each center, the first model on top
    shown, other, _ = many.data
    assert list(shown.y) == [4, 1] and list(other.y) == [3, 0]  # A above All centers
    assert list(many.layout.yaxis.tickvals) == [3.5, 0.5]
    assert list(many.layout.yaxis.ticktext) == ["A", "All centers"]


def test_the_synthetic_references_are_drawn_apart_and_never_as_models() -> None:
    rows = pd.DataFrame(
        {
            "center": ["A", "All centers"],
            "auc": [0.6, 0.62],
            "auc_ci_lower": [0.5, 0.55],
            "auc_ci_upper": [0.7, 0.69],
            "n": [50, 90],
        }
    )
    names = list(SYNTHETIC_MARKERS)
    assert set(names) == set(SYNTHETIC_REFERENCES)  # a marker for every reference a page shows
    references = {name: {"A": 0.6 + 0.05 * i, "All centers": 0.6} for i, name in enumerate(names)}
    references["clinical baseline"] = {"A": 0.55, "All centers": 0.56}
    figure = auc_forest(rows, title="AUC", references=references)
    drawn = {trace.name: trace.marker.symbol for trace in figure.data}
    symbols = [drawn[name] for name in names]
    assert len(set(symbols)) == len(names)  # four references, four shapes
    assert all(symbol.endswith("-open") for symbol in symbols)  # open: not models
    assert not drawn["clinical baseline"].endswith("-open")  # a model: filled
    assert all(is_reference(name) for name in names) and not is_reference("clinical baseline")


def test_the_mean_of_the_centers_is_a_last_row_with_its_interval() -> None:
    rows = pd.DataFrame(
        {
            "center": ["A", "B", "All centers"],
            "auc": [0.9, 0.7, 0.65],
            "auc_ci_lower": [0.8, 0.6, 0.6],
            "auc_ci_upper": [0.95, 0.8, 0.7],
            "n": [50, 40, 90],
            "center_mean_auc": [np.nan, np.nan, 0.8],
            "center_mean_auc_ci_lower": [np.nan, np.nan, 0.72],
            "center_mean_auc_ci_upper": [np.nan, np.nan, 0.86],
        }
    )
    figure = auc_forest(rows, title="AUC", references={CEILING: {"All centers": 0.85}})
    model, ceiling = figure.data
    assert list(model.y) == ["A", "B", "All centers", "Mean of centers"]
    assert list(model.x) == [0.9, 0.7, 0.65, 0.8]
    assert np.allclose(model.error_x.array[-1], 0.06)  # 0.86 − 0.8
    assert np.allclose(model.error_x.arrayminus[-1], 0.08)  # 0.8 − 0.72
    assert model.customdata[-1][0] == 90  # the pooled row's patients
    # the last row at the bottom; no reference is drawn on it
    assert list(figure.layout.yaxis.categoryarray) == ["Mean of centers", "All centers", "B", "A"]
    assert list(ceiling.y) == ["All centers"]
    # without the mean (every row empty, or no such column) the forest is unchanged
    for without in (rows.assign(center_mean_auc=np.nan), rows.drop(columns="center_mean_auc")):
        assert list(auc_forest(without, title="AUC").data[0].y) == ["A", "B", "All centers"]
