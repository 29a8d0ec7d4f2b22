"""Forest plots: hazard ratios (or any ratio measure) with their confidence intervals, and the
row layout of a forest with several estimates per group (models or schemes per center)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gistcad.errors import ValidationError
from gistcad.plots.markers import model_marker
from gistcad.plots.survival import format_p_value

REQUIRED_COLUMNS = ("term", "hr", "ci_lower", "ci_upper", "p")


def _check_table(table: pd.DataFrame) -> None:
    missing = [column for column in REQUIRED_COLUMNS if column not in table.columns]
    if missing:
        raise ValidationError(
            f"forest table lacks column(s) {missing}; it needs {list(REQUIRED_COLUMNS)} "
            "(CoxResult.table has them)"
        )
    if table.empty:
        raise ValidationError("forest table is empty: there are no terms to plot")
    values = table[["ci_lower", "hr", "ci_upper"]].to_numpy(dtype=float)
    bad = ~(
        np.isfinite(values).all(axis=1)
        & (values > 0).all(axis=1)
        & (values[:, 0] <= values[:, 1])
        & (values[:, 1] <= values[:, 2])
    )
    if bad.any():
        terms = table["term"].to_numpy()[bad].tolist()
        raise ValidationError(
            f"terms {terms} need finite ratios > 0 with ci_lower ≤ hr ≤ ci_upper to be drawn "
            "on a log scale; an infinite ratio usually means a group without events"
        )


def _row_text(row: pd.Series) -> str:
    return (
        f"{row['hr']:.2f} ({row['ci_lower']:.2f}–{row['ci_upper']:.2f}), "
        f"{format_p_value(float(row['p']))}"
    )


def forest_figure(
    table: pd.DataFrame, *, title: str = "Hazard ratios", x_label: str = "Hazard ratio"
) -> go.Figure:
    """Ratios with confidence intervals on a log axis, one row per term, first term on top.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``term``, ``hr``, ``ci_lower``, ``ci_upper``, ``p`` (e.g.
        :attr:`gistcad.analysis.cox.CoxResult.table`); ratios finite and > 0.
    title : str
    x_label : str
        Axis title; "(log scale)" is appended.

    Returns
    -------
    plotly.graph_objects.Figure
        Trace 0: a dashed reference line at 1; trace 1: the points with asymmetric error
        bars. Each row's "HR (CI), p" is an annotation right of the plot.
    """
    _check_table(table)
    rows = table.reset_index(drop=True)
    position = np.arange(len(rows))[::-1].astype(float)
    hr = rows["hr"].to_numpy(dtype=float)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[1.0, 1.0],
            y=[-0.5, len(rows) - 0.5],
            mode="lines",
            name="no effect (HR = 1)",
            line={"color": "grey", "dash": "dash", "width": 1},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.add_trace(
        go.Scatter(
            x=hr,
            y=position,
            mode="markers",
            name="HR (CI)",
            showlegend=False,
            # an estimate with its CI: the filled marker of the one marker table
            marker={"symbol": model_marker(0).symbol, "size": 9, "color": model_marker(0).color},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": rows["ci_upper"].to_numpy(dtype=float) - hr,
                "arrayminus": hr - rows["ci_lower"].to_numpy(dtype=float),
                "color": model_marker(0).color,
                "thickness": 1.5,
                "width": 0,
            },
            text=[_row_text(row) for _, row in rows.iterrows()],
            hovertemplate="%{text}<extra></extra>",
        )
    )
    for y, (_, row) in zip(position, rows.iterrows(), strict=True):
        figure.add_annotation(
            text=_row_text(row),
            x=1.01,
            y=y,
            xref="paper",
            yref="y",
            xanchor="left",
            showarrow=False,
        )
    figure.update_xaxes(type="log", title_text=f"{x_label} (log scale)")
    figure.update_yaxes(
        tickvals=position,
        ticktext=rows["term"].astype(str).tolist(),
        range=[-0.5, len(rows) - 0.5],
        showgrid=False,
    )
    figure.update_layout(
        title_text=title, template="simple_white", height=160 + 40 * len(rows), margin={"r": 260}
    )
    return figure


@dataclass(frozen=True)
class GroupedForestLayout:
    """Rows of a forest with ``members`` estimates per group, first group on top.

    Each group takes ``members`` consecutive rows (its first member on top) and a blank row
    separates the groups; the group's name labels the middle of its rows.

    Attributes
    ----------
    groups : tuple of str
        In drawing order, top to bottom.
    members : int
        Estimates per group (models, reference schemes).
    """

    groups: tuple[str, ...]
    members: int

    @property
    def step(self) -> int:
        """Rows per group, the blank separating row included."""
        return self.members + 1

    def position(self, group: str, member: int) -> int:
        """The y of the ``member``-th estimate (0: the group's top row) of ``group``."""
        base = (len(self.groups) - 1 - self.groups.index(group)) * self.step
        return base + (self.members - 1 - member)

    def centre(self, group: str) -> float:
        """The y of ``group``'s label: the middle of its rows."""
        return self.position(group, 0) - (self.members - 1) / 2

    def layout(self) -> dict[str, Any]:
        """``update_layout`` arguments: the height, the y axis labelled by group, and the
        legend above the plot."""
        return dict(
            height=140 + 22 * self.step * max(len(self.groups), 1),
            yaxis=dict(
                tickvals=[self.centre(g) for g in self.groups],
                ticktext=list(self.groups),
                range=[-1, self.step * len(self.groups) - 1],
                showgrid=False,
            ),
            legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
            margin=dict(t=110),
        )


def grouped_forest_layout(groups: Iterable[str], members: int) -> GroupedForestLayout:
    """The layout of a forest with ``members`` estimates for each of ``groups`` (repeats
    dropped, first occurrence kept: the group order of a long table's rows).

    >>> layout = grouped_forest_layout(["A", "A", "All centers"], members=2)
    >>> [layout.position("A", 0), layout.position("A", 1), layout.centre("All centers")]
    [4, 3, 0.5]
    """
    if members < 1:
        raise ValidationError(
            f"a grouped forest needs at least one estimate per group, not {members}"
        )
    return GroupedForestLayout(tuple(dict.fromkeys(groups)), members)
