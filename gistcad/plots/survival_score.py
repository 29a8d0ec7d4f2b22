"""Figures of an imaging risk score for survival: the ΔC forest against the clinical schemes
and the calibration of predicted against observed survival at one time, by risk group.

The Kaplan–Meier figure by risk tertile is :func:`gistcad.plots.survival.km_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gistcad.plots.forest import grouped_forest_layout
from gistcad.plots.markers import CHANCE_LINE
from gistcad.plots.performance import PALETTE


def delta_c_forest(rows: pd.DataFrame, *, title: str) -> go.Figure:
    """ΔC with its 95 % CI per center and pooled, one colour per reference scheme.

    Parameters
    ----------
    rows : pandas.DataFrame
        ``center``, ``reference``, ``n``, ``delta_c``, ``ci_lower``, ``ci_upper``, ``p``
        (the ``delta_c`` rows of
        :func:`gistcad.modelling.survival_evaluation.evaluate_survival`).

    Returns
    -------
    plotly.graph_objects.Figure
        One trace per reference; a dotted line at 0 (no added value).
    """
    references = list(dict.fromkeys(rows["reference"]))
    layout = grouped_forest_layout(rows["center"], len(references))
    figure = go.Figure()
    for i, reference in enumerate(references):
        part = rows[rows["reference"] == reference]
        figure.add_scatter(
            x=part["delta_c"],
            y=[layout.position(c, i) for c in part["center"]],
            mode="markers",
            marker=dict(size=10, color=PALETTE[i % len(PALETTE)]),
            error_x=dict(
                type="data",
                array=part["ci_upper"] - part["delta_c"],
                arrayminus=part["delta_c"] - part["ci_lower"],
                thickness=1.5,
                color=PALETTE[i % len(PALETTE)],
            ),
            name=f"vs {reference} (95 % CI)",
            customdata=np.stack([part["center"], part["n"], part["p"]], axis=1),
            hovertemplate=f"vs {reference}, %{{customdata[0]}}: ΔC %{{x:+.3f}} "
            "(n=%{customdata[1]}, p %{customdata[2]:.2g})<extra></extra>",
        )
    figure.add_vline(x=0.0, line=CHANCE_LINE)
    figure.update_layout(
        title=title,
        template="simple_white",
        xaxis=dict(title="ΔC (Harrell's C of the score minus the scheme's)", zeroline=False),
        **layout.layout(),
    )
    return figure


def survival_calibration_figure(calibration: Mapping[str, Any], *, title: str) -> go.Figure:
    """Observed (Kaplan–Meier, 95 % CI) against mean predicted survival per risk group.

    Parameters
    ----------
    calibration : Mapping
        ``time`` and ``groups`` (rows with ``group``, ``n``, ``predicted``, ``observed``,
        ``observed_lower``, ``observed_upper``; observed None where not estimable), as
        :func:`gistcad.modelling.survival_evaluation.evaluate_survival` stores them.
    """
    groups = pd.DataFrame(list(calibration["groups"])).astype(
        {c: float for c in ("predicted", "observed", "observed_lower", "observed_upper")}
    )
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=CHANCE_LINE, name="ideal")
    figure.add_scatter(
        x=groups["predicted"],
        y=groups["observed"],
        mode="markers+text",
        marker=dict(size=11, color=PALETTE[0]),
        error_y=dict(
            type="data",
            array=(groups["observed_upper"] - groups["observed"]).fillna(0),
            arrayminus=(groups["observed"] - groups["observed_lower"]).fillna(0),
            thickness=1.5,
        ),
        text=[f"{g} (n={n})" for g, n in zip(groups["group"], groups["n"], strict=True)],
        textposition="top left",
        name="risk group (Kaplan–Meier, 95 % CI)",
        hovertemplate="predicted %{x:.0%}, observed %{y:.0%}<extra></extra>",
    )
    months = float(calibration["time"])
    figure.update_layout(
        title=title,
        template="simple_white",
        height=420,
        width=460,
        xaxis=dict(title=f"Predicted recurrence-free at {months:.0f} months", range=[0, 1.02]),
        yaxis=dict(title="Observed (Kaplan–Meier)", range=[0, 1.05], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.2),
    )
    figure.update_xaxes(tickformat=".0%")
    return figure
