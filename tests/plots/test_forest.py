"""Forest plot: log axis, reference line at 1, points with CI bars, labels."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.cox import cox_hazard_ratios
from gistcad.errors import ValidationError
from gistcad.plots.forest import forest_figure

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
