"""The volcano plot puts each feature at (log2 HR, −log10 p) and colours the discoveries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gistcad.errors import ValidationError
from gistcad.plots.biomarkers import volcano_figure


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feature": ["a", "b", "c", "d"],
            "hr": [2.0, 0.5, 1.0, np.nan],
            "ci_lower": [1.5, 0.3, 0.8, np.nan],
            "ci_upper": [2.6, 0.8, 1.25, np.nan],
            "p": [1e-4, 0.01, 1.0, np.nan],
            "q": [4e-4, 0.02, 1.0, np.nan],
            "confirmed": [True, False, False, False],
            "size_flag": [False, True, False, False],
        }
    )


def test_points_sit_at_log2_hr_and_minus_log10_p() -> None:
    figure = volcano_figure(_table(), fdr=0.1)
    by_name = {trace.name: trace for trace in figure.data}
    confirmed = by_name["discovered and confirmed"]
    assert list(confirmed.x) == pytest.approx([1.0]) and list(confirmed.y) == pytest.approx([4.0])
    discovered = by_name["discovered (q < FDR)"]
    assert list(discovered.x) == pytest.approx([-1.0]) and list(discovered.y) == pytest.approx(
        [2.0]
    )
    assert "nearly a function of size" in discovered.text[0]
    assert list(by_name["not discovered"].x) == pytest.approx([0.0])
    # the row without an estimate is not drawn
    assert sum(len(t.x) for t in figure.data if t.mode == "markers") == 3


def test_a_stricter_fdr_colours_fewer() -> None:
    figure = volcano_figure(_table(), fdr=0.01)
    names = [t.name for t in figure.data if t.mode == "markers"]
    assert "discovered (q < FDR)" not in names


def test_a_table_without_q_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['q'\]"):
        volcano_figure(_table().drop(columns="q"), fdr=0.1)
