"""Response figures: bar order and colours, thresholds, lanes, CI bars, the landmark stated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.analysis.response_statistics import landmark_survival, response_rates
from gistcad.domain import Endpoint, ResponseCategory, ResponseCriteria
from gistcad.errors import ValidationError
from gistcad.plots.response import (
    CATEGORY_COLOURS,
    kappa_text,
    landmark_figure,
    response_rate_figure,
    spider_figure,
    swimmer_figure,
    waterfall_figure,
)

PATIENTS = pd.DataFrame(
    {
        "pseudonym": ["P1", "P2", "P3", "P4"],
        "best_size_change": [-0.45, 0.25, -0.05, None],
        "best_density_change": [-0.30, 0.05, -0.20, -0.10],
        "best_recist": ["pr", "pd", "sd", None],
        "best_choi": ["pr", "pd", "pr", "sd"],
    }
)


def test_waterfall_orders_bars_and_colours_them_by_best_response() -> None:
    figure = waterfall_figure(PATIENTS, measure="size", criteria=ResponseCriteria.RECIST_1_1)
    assert [t.name for t in figure.data] == [
        "PR (partial response)",
        "SD (stable disease)",
        "PD (progressive disease)",
    ]  # best to worst; P4 has no size change and is left out
    assert list(figure.layout.xaxis.categoryarray) == ["P2", "P3", "P1"]  # growth on the left
    pr = figure.data[0]
    assert list(pr.x) == ["P1"] and list(pr.y) == pytest.approx([-45.0])
    assert pr.marker.color == CATEGORY_COLOURS[ResponseCategory.PARTIAL]
    assert figure.layout.legend.title.text == "Best response (RECIST 1.1)"
    assert figure.layout.showlegend is True
    assert sorted(shape.y0 for shape in figure.layout.shapes) == pytest.approx([-30.0, 20.0])


def test_waterfall_of_density_by_choi_draws_the_15_percent_line() -> None:
    figure = waterfall_figure(PATIENTS, measure="density", criteria=ResponseCriteria.CHOI)
    assert [shape.y0 for shape in figure.layout.shapes] == pytest.approx([-15.0])
    assert sum(len(t.x) for t in figure.data) == 4
    assert figure.layout.legend.title.text == "Best response (Choi)"


def test_waterfall_without_measurements_says_so() -> None:
    with pytest.raises(ValidationError, match="no patient has a sum of diameters"):
        waterfall_figure(PATIENTS.assign(best_size_change=None))
    with pytest.raises(ValidationError, match="measure must be one of"):
        waterfall_figure(PATIENTS, measure="volume")


def test_swimmer_has_a_lane_per_patient_with_lines_and_markers() -> None:
    lines = pd.DataFrame(
        {
            "pseudonym": ["P1", "P2"],
            "line": [1, 1],
            "drug": ["imatinib", "imatinib"],
            "dose_mg_per_day": [400.0, 400.0],
            "start_months": [0.0, 0.0],
            "stop_months": [12.5, 6.0],
        }
    )
    marks = pd.DataFrame(
        {
            "pseudonym": ["P1", "P1", "P2"],
            "months": [2.0, 6.0, 2.0],
            "criteria": ["choi", "recist_1_1", "choi"],
            "category": ["pr", "sd", "pd"],
        }
    )
    figure = swimmer_figure(lines, marks, criteria=ResponseCriteria.CHOI)
    bars, pr, pd_ = figure.data
    assert list(bars.x) == pytest.approx([12.5, 6.0])
    assert bars.name == "Imatinib"
    assert (pr.name, list(pr.x)) == ("PR (partial response)", [2.0])  # RECIST marker not drawn
    assert (pd_.name, list(pd_.y)) == ("PD (progressive disease)", ["P2"])
    assert figure.layout.xaxis.title.text == "Months from the start of treatment"


def test_response_rate_bars_are_the_interval() -> None:
    categories = [ResponseCategory.PARTIAL] * 7 + [ResponseCategory.STABLE] * 13
    table = response_rates(categories, ["KIT exon 11"] * 20)
    table.insert(0, "grouping", "True genotype")
    table.insert(0, "criteria", "Choi")
    figure = response_rate_figure(table)
    (trace,) = figure.data
    assert list(trace.y) == pytest.approx([35.0])
    assert list(trace.error_y.array) == pytest.approx([100 * (table["ci_high"][0] - 0.35)])
    assert list(trace.error_y.arrayminus) == pytest.approx([100 * (0.35 - table["ci_low"][0])])
    assert list(trace.text) == ["7/20"]


def test_landmark_figure_states_the_landmark() -> None:
    result = landmark_survival(
        [10.0, 20.0, 14.0, 30.0, 1.0],
        [1, 0, 1, 0, 1],
        ["PR", "PR", "PD", "PD", "PR"],
        [2.0, 2.0, 2.0, 2.0, np.nan],
        3.0,
        times=[0, 12],
    )
    figure = landmark_figure(result, Endpoint.RFS)
    assert "landmark at 3 months" in figure.layout.title.text
    assert any("Landmark at 3 months" in a.text for a in figure.layout.annotations)
    assert "since the landmark" in figure.layout.xaxis.title.text


def test_kappa_text() -> None:
    assert kappa_text(0.4, 0.146, 0.654) == "κ = 0.40 (95 % CI 0.15 to 0.65)"
    assert kappa_text(0.38, -0.02, 0.78) == "κ = 0.38 (95 % CI −0.02 to 0.78)"
    assert kappa_text(float("nan"), float("nan"), float("nan")).startswith("κ not defined")


def test_spider_draws_one_line_per_patient_from_baseline() -> None:
    marks = pd.DataFrame(
        {
            "pseudonym": ["P1", "P1", "P1", "P1", "P2", "P2"],
            "months": [6.0, 2.0, 2.0, 6.0, 2.0, 2.0],
            "criteria": ["recist_1_1", "recist_1_1", "choi", "choi", "recist_1_1", "choi"],
            "category": ["pr", "sd", "pr", "pr", "pd", "pd"],
            "size_change": [-0.4, -0.1, -0.1, -0.4, 0.25, 0.25],
            "density_change": [None, None, -0.3, -0.35, None, 0.05],
        }
    )
    figure = spider_figure(marks, PATIENTS, measure="size")
    p1, p2 = figure.data
    assert list(p1.x) == [0.0, 2.0, 6.0]  # baseline first, then in time order
    assert list(p1.y) == pytest.approx([0.0, -10.0, -40.0])
    assert (p1.name, p2.name) == ("PR (partial response)", "PD (progressive disease)")
    assert p2.line.color == CATEGORY_COLOURS[ResponseCategory.PROGRESSION]
    density = spider_figure(marks, PATIENTS, measure="density", criteria=ResponseCriteria.CHOI)
    assert list(density.data[0].y) == pytest.approx([0.0, -30.0, -35.0])  # Choi rows' density
    assert [shape.y0 for shape in density.layout.shapes] == pytest.approx([-15.0])
