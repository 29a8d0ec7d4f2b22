"""Performance figures hold the numbers they were given."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gistcad.plots.performance import (
    auc_forest,
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
    matrix = pd.DataFrame([[5, 1], [2, 7]], index=["a", "b"], columns=["a", "b"])
    heat = confusion_figure(matrix, title="Confusion")
    assert heat.data[0].z.tolist() == [[5, 1], [2, 7]]
