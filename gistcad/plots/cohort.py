"""Figures of a cohort's make-up: counts by category, distributions of measurements."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _label(value: object) -> str:
    return (
        "missing" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    )


def count_bars(cohort: pd.DataFrame, column: str, *, by: str, title: str) -> go.Figure:
    """Stacked bars: patients per level of ``column`` within each level of ``by``.

    One trace per level of ``column`` (missing values shown as "missing"), x = levels of
    ``by``, y = counts; hover gives the count and the percentage within the ``by`` level.
    """
    data = pd.DataFrame({"x": cohort[by].map(_label), "level": cohort[column].map(_label)})
    counts = data.groupby(["x", "level"]).size().unstack(fill_value=0)
    totals = counts.sum(axis=1)
    figure = go.Figure()
    for i, level in enumerate(counts.columns):
        share = (counts[level] / totals * 100).round(1)
        figure.add_bar(
            name=level,
            x=counts.index.tolist(),
            y=counts[level].tolist(),
            marker_color=PALETTE[i % len(PALETTE)],
            customdata=share.tolist(),
            hovertemplate=f"{level}: %{{y}} patients (%{{customdata}} %)<extra>%{{x}}</extra>",
        )
    figure.update_layout(
        barmode="stack",
        title=title,
        template="simple_white",
        yaxis_title="Patients",
        legend_title=column.replace("_", " "),
        height=380,
    )
    return figure


def distribution(
    cohort: pd.DataFrame, column: str, *, by: str | None = None, title: str, unit: str
) -> go.Figure:
    """Overlaid histograms of ``column`` (one per level of ``by``), missing values left out."""
    figure = go.Figure()
    groups = [("All", cohort)] if by is None else list(cohort.groupby(by, dropna=False))
    for i, (name, part) in enumerate(groups):
        values = part[column].dropna().astype(float)
        figure.add_histogram(
            x=values.tolist(),
            name=f"{_label(name)} (n={len(values)})",
            opacity=0.6 if by is not None else 0.9,
            marker_color=PALETTE[i % len(PALETTE)],
        )
    figure.update_layout(
        barmode="overlay",
        title=title,
        template="simple_white",
        xaxis_title=unit,
        yaxis_title="Patients",
        height=380,
    )
    return figure
