"""Forest plot: log axis, reference line at 1, points with CI bars, labels."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.cox import cox_hazard_ratios
from gistcad.errors import ValidationError
from gistcad.plots.forest import forest_figure, grouped_forest_layout
from gistcad.plots.performance import comparison_forest
from gistcad.plots.survival_score import delta_c_forest

TABLE = pd.DataFrame(
    {
        "term": ["group: pdgfra vs kit11", "group: wt vs kit11", "age"],
        "hr": [0.5, 2.0, 1.1],
        "ci_lower": [0.25, 1.2, 0.9],
        "ci_upper": [1.0, 3.5, 1.3],
        "p": [0.049, 0.0002, 0.41],
    }
)


def test_forest_figure_content() -> None:
    figure = forest_figure(TABLE, title="Recurrence-free survival")
    reference, points = figure.data
    assert figure.layout.xaxis.type == "log"
    assert list(reference.x) == [1.0, 1.0]
    np.testing.assert_allclose(points.x, TABLE["hr"])
    np.testing.assert_allclose(points.error_x.array, TABLE["ci_upper"] - TABLE["hr"])
    np.testing.assert_allclose(points.error_x.arrayminus, TABLE["hr"] - TABLE["ci_lower"])
    # first term on top
    assert list(figure.layout.yaxis.ticktext) == TABLE["term"].tolist()
    assert list(figure.layout.yaxis.tickvals) == [2.0, 1.0, 0.0]
    texts = [annotation.text for annotation in figure.layout.annotations]
    assert texts == [
        "0.50 (0.25–1.00), p = 0.049",
        "2.00 (1.20–3.50), p < 0.001",
        "1.10 (0.90–1.30), p = 0.41",
    ]
    assert figure.layout.title.text == "Recurrence-free survival"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (TABLE.drop(columns="p"), r"lacks column\(s\) \['p'\]"),
        (TABLE.iloc[0:0], "empty"),
        (TABLE.assign(hr=[0.5, np.inf, 1.1]), r"terms \['group: wt vs kit11'\] need finite"),
        (TABLE.assign(ci_lower=[0.6, 1.2, 0.9]), r"ci_lower ≤ hr ≤ ci_upper"),
    ],
)
def test_bad_tables_are_rejected(table: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        forest_figure(table)


def test_forest_figure_accepts_a_cox_table() -> None:
    data = pd.read_csv(Path(__file__).resolve().parents[1] / "data" / "freireich_6mp.csv")
    result = cox_hazard_ratios(data["weeks"], data["relapse"], data["group"], "6-MP")
    figure = forest_figure(result.table)
    assert list(figure.layout.yaxis.ticktext) == ["group: placebo vs 6-MP"]


def test_grouped_forest_layout_stacks_each_groups_estimates_with_a_blank_row_between() -> None:
    # three centers, two estimates each: rows 7 6 | 5 blank | 4 3 | 2 blank | 1 0
    layout = grouped_forest_layout(["A", "B", "A", "All centers", "B"], members=2)
    assert layout.groups == ("A", "B", "All centers")  # repeats dropped, first order kept
    assert [layout.position("A", 0), layout.position("A", 1)] == [7, 6]
    assert [layout.position("B", 0), layout.position("B", 1)] == [4, 3]
    assert [layout.position("All centers", 0), layout.position("All centers", 1)] == [1, 0]
    assert [layout.centre(g) for g in layout.groups] == [6.5, 3.5, 0.5]
    settings = layout.layout()
    assert settings["yaxis"]["tickvals"] == [6.5, 3.5, 0.5]
    assert settings["yaxis"]["ticktext"] == ["A", "B", "All centers"]
    assert settings["yaxis"]["range"] == [-1, 8]
    assert settings["height"] == 140 + 22 * 3 * 3
    # one estimate per group: one row each, the label on it
    single = grouped_forest_layout(["A", "B"], members=1)
    assert [single.position("A", 0), single.position("B", 0)] == [2, 0]
    assert single.centre("A") == 2.0


def test_grouped_forest_layout_needs_an_estimate_per_group() -> None:
    with pytest.raises(ValidationError, match="at least one estimate per group, not 0"):
        grouped_forest_layout(["A"], members=0)


def test_both_grouped_forests_place_their_rows_by_the_shared_layout() -> None:
    table = pd.DataFrame(
        {
            "center": ["A", "All centers"] * 2,
            "model": ["m1", "m1", "m2", "m2"],
            "reference": ["s1", "s1", "s2", "s2"],
            "auc": [0.7, 0.65, 0.6, 0.62],
            "auc_ci_lower": [0.6, 0.6, 0.5, 0.55],
            "auc_ci_upper": [0.8, 0.7, 0.7, 0.69],
            "delta_c": [0.02, 0.01, 0.05, 0.04],
            "ci_lower": [-0.05, -0.03, 0.0, 0.01],
            "ci_upper": [0.09, 0.05, 0.1, 0.07],
            "n": [50, 90, 50, 90],
            "p": [0.5, 0.6, 0.06, 0.01],
        }
    )
    layout = grouped_forest_layout(table["center"], 2)
    for figure in (
        comparison_forest(table, title="AUC"),
        delta_c_forest(table, title="ΔC"),
    ):
        assert list(figure.data[0].y) == [
            layout.position("A", 0),
            layout.position("All centers", 0),
        ]
        assert list(figure.data[1].y) == [
            layout.position("A", 1),
            layout.position("All centers", 1),
        ]
        assert list(figure.layout.yaxis.tickvals) == layout.layout()["yaxis"]["tickvals"]
        assert figure.layout.height == layout.layout()["height"]
