"""Volcano plot of a biomarker discovery: effect against evidence, discoveries coloured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gistcad.errors import ValidationError

REQUIRED_COLUMNS = ("feature", "hr", "ci_lower", "ci_upper", "p", "q")
#: (name, colour, symbol) of the point classes, from least to most notable
_CLASSES = (
    ("not discovered", "#9E9E9E", "circle"),
    ("discovered (q < FDR)", "#D55E00", "circle"),
    ("discovered and confirmed", "#0072B2", "diamond"),
)


def volcano_figure(table: pd.DataFrame, fdr: float, *, title: str = "Volcano plot") -> go.Figure:
    """log2 hazard ratio per SD against −log10 p, one point per feature.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``feature``, ``hr``, ``ci_lower``, ``ci_upper``, ``p``, ``q`` and, when
        present, ``confirmed`` and ``size_flag`` (the discovery table of
        :class:`~gistcad.analysis.biomarker_discovery.Discovery`). Rows without a finite HR
        or p are not drawn.
    fdr : float
        Points with q < ``fdr`` are coloured as discovered.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One scatter trace per class present (not discovered; discovered; discovered and
        confirmed), in that order; a dashed vertical line at HR = 1. Hover shows the feature,
        HR (95 % CI), p and q, and the size warning.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise ValidationError(
            f"volcano table lacks column(s) {missing}; it needs {REQUIRED_COLUMNS}"
        )
    rows = table[np.isfinite(table["hr"].to_numpy(float)) & np.isfinite(table["p"].to_numpy(float))]
    rows = rows[(rows["hr"] > 0) & (rows["p"] > 0)]
    discovered = rows["q"].to_numpy(dtype=float) < fdr
    confirmed = (
        rows["confirmed"].to_numpy(dtype=bool) if "confirmed" in rows else np.zeros(len(rows), bool)
    )
    level = np.where(discovered & confirmed, 2, np.where(discovered, 1, 0))
    flagged = (
        rows["size_flag"].to_numpy(dtype=bool) if "size_flag" in rows else np.zeros(len(rows), bool)
    )
    text = [
        f"{r.feature}<br>HR {r.hr:.2f} ({r.ci_lower:.2f}–{r.ci_upper:.2f}) per SD"
        f"<br>p = {r.p:.2g}, q = {r.q:.2g}" + ("<br>nearly a function of size" if flag else "")
        for r, flag in zip(rows.itertuples(), flagged, strict=True)
    ]
    x = np.log2(rows["hr"].to_numpy(dtype=float))
    y = -np.log10(rows["p"].to_numpy(dtype=float))
    figure = go.Figure()
    top = float(y.max()) if y.size else 1.0
    figure.add_trace(
        go.Scatter(
            x=[0.0, 0.0],
            y=[0.0, top * 1.05 + 0.1],
            mode="lines",
            line={"color": "grey", "dash": "dash", "width": 1},
            showlegend=False,
            hoverinfo="skip",
            name="HR = 1",
        )
    )
    for index, (name, colour, symbol) in enumerate(_CLASSES):
        member = level == index
        if not member.any():
            continue
        figure.add_trace(
            go.Scatter(
                x=x[member],
                y=y[member],
                mode="markers",
                name=name,
                marker={"color": colour, "symbol": symbol, "size": 9 if index else 7},
                text=[t for t, m in zip(text, member, strict=True) if m],
                hovertemplate="%{text}<extra></extra>",
            )
        )
    figure.update_xaxes(title_text="log2 hazard ratio per SD", zeroline=False)
    figure.update_yaxes(title_text="−log10 p", rangemode="tozero")
    figure.update_layout(title_text=title, template="simple_white", height=480)
    return figure
