"""Figures of model performance: ROC per center, AUC forest with the ceiling, the models
compared on the same patients, reliability diagram, confusion matrix.

The forests take their markers from :mod:`gistcad.plots.markers` (filled: models; open: the
ceiling), the same on every page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from gistcad.plots.forest import grouped_forest_layout
from gistcad.plots.markers import CHANCE_LINE, is_reference, model_marker, reference_marker

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
CHANCE = CHANCE_LINE


def roc_figure(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray, float]], *, title: str
) -> go.Figure:
    """One ROC step curve per center (name → (fpr, tpr, auc)), with the chance diagonal."""
    figure = go.Figure()
    figure.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", line=CHANCE, name="chance", hoverinfo="skip"
    )
    for i, (name, (fpr, tpr, auc)) in enumerate(curves.items()):
        figure.add_scatter(
            x=list(fpr),
            y=list(tpr),
            mode="lines",
            line=dict(
                color=PALETTE[i % len(PALETTE)],
                width=3 if name == "All centers" else 1.5,
                shape="linear",
            ),
            name=f"{name} (AUC {auc:.2f})",
        )
    figure.update_layout(
        title=title,
        template="simple_white",
        height=460,
        width=520,
        xaxis=dict(title="1 − specificity", range=[0, 1], constrain="domain"),
        yaxis=dict(title="Sensitivity", range=[0, 1], scaleanchor="x"),
        legend=dict(x=1.02, y=0),
    )
    return figure


MEAN_OF_CENTERS = "Mean of centers"


def _with_center_mean(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` and, below them, a :data:`MEAN_OF_CENTERS` row for each row that gives the
    mean of the per-center AUCs (its CI where given, its ``n``)."""
    if "center_mean_auc" not in rows:
        return rows
    given = rows[rows["center_mean_auc"].notna()]
    if given.empty:
        return rows
    nothing = pd.Series(np.nan, index=given.index)
    mean = pd.DataFrame(
        {
            "center": MEAN_OF_CENTERS,
            "auc": given["center_mean_auc"],
            "auc_ci_lower": given.get("center_mean_auc_ci_lower", nothing),
            "auc_ci_upper": given.get("center_mean_auc_ci_upper", nothing),
            "n": given["n"],
        }
    )
    return pd.concat([rows, mean], ignore_index=True)


def auc_forest(
    rows: pd.DataFrame,
    *,
    title: str,
    references: Mapping[str, Mapping[str, float]] | None = None,
) -> go.Figure:
    """AUC with CI per center and pooled (rows: center, auc, auc_ci_lower, auc_ci_upper, n).

    A row with ``center_mean_auc`` (the pooled row of
    :func:`gistcad.modelling.evaluation.evaluate`) adds a last row, "Mean of centers", with
    that mean and its CI (``center_mean_auc_ci_lower``/``_upper``). ``references`` adds
    markers on the same axes: e.g. ``{"clinical baseline": {center: auc}, "ceiling":
    {center: auc}}``. A dotted line marks chance (0.5).
    """
    rows = _with_center_mean(rows)
    order = list(rows["center"])[::-1]
    lower = (rows["auc"] - rows["auc_ci_lower"]).fillna(0)
    upper = (rows["auc_ci_upper"] - rows["auc"]).fillna(0)
    shown = model_marker(0)
    figure = go.Figure()
    figure.add_scatter(
        x=rows["auc"],
        y=rows["center"],
        mode="markers",
        marker=dict(symbol=shown.symbol, size=10, color=shown.color),
        error_x=dict(type="data", array=upper, arrayminus=lower, thickness=1.5),
        name="model (95 % CI)",
        customdata=np.stack([rows["n"]], axis=1),
        hovertemplate="%{y}: AUC %{x:.3f} (n=%{customdata[0]})<extra></extra>",
    )
    others = 0
    for name, values in (references or {}).items():
        present = [c for c in order if c in values and np.isfinite(values[c])]
        reference = is_reference(name)
        if not reference:
            others += 1
        marker = reference_marker(name) if reference else model_marker(others)
        figure.add_scatter(
            x=[values[c] for c in present],
            y=present,
            mode="markers",
            marker=dict(symbol=marker.symbol, size=12, color=marker.color, line=dict(width=2)),
            name=name,
        )
    figure.add_vline(x=0.5, line=CHANCE)
    figure.update_layout(
        title=title,
        template="simple_white",
        height=120 + 40 * len(order),
        xaxis=dict(title="ROC AUC", range=[0, 1.02]),
        yaxis=dict(categoryorder="array", categoryarray=order),
    )
    return figure


def comparison_forest(
    table: pd.DataFrame,
    *,
    title: str,
    references: Mapping[str, Mapping[str, float]] | None = None,
) -> go.Figure:
    """Several models' AUC with 95 % CI per center, on the same patients, one row per center
    and model (the first model on top within a center; its marker is the page's model's).

    ``table``: ``model``, ``center``, ``auc``, ``auc_ci_lower``, ``auc_ci_upper``, ``n``
    (:attr:`gistcad.modelling.assessment.SharedComparison.table`); ``references``: per
    reference (the ceiling), per center, an AUC drawn as an open marker on the center's row.
    """
    models = list(dict.fromkeys(table["model"]))
    layout = grouped_forest_layout(table["center"], len(models))
    figure = go.Figure()
    for i, model in enumerate(models):
        rows = table[table["model"] == model]
        y = [layout.position(c, i) for c in rows["center"]]
        marker = model_marker(i)
        figure.add_scatter(
            x=rows["auc"],
            y=y,
            mode="markers",
            marker=dict(symbol=marker.symbol, size=10, color=marker.color),
            error_x=dict(
                type="data",
                array=(rows["auc_ci_upper"] - rows["auc"]).fillna(0),
                arrayminus=(rows["auc"] - rows["auc_ci_lower"]).fillna(0),
                thickness=1.5,
                color=marker.color,
            ),
            name=f"{model} (95 % CI)",
            customdata=np.stack([rows["center"], rows["n"]], axis=1),
            hovertemplate=f"{model}, %{{customdata[0]}}: AUC %{{x:.3f}} (n=%{{customdata[1]}})"
            "<extra></extra>",
        )
    for name, values in (references or {}).items():
        present = [c for c in layout.groups if c in values and np.isfinite(values[c])]
        marker = reference_marker(name)
        figure.add_scatter(
            x=[values[c] for c in present],
            y=[layout.centre(c) for c in present],
            mode="markers",
            marker=dict(symbol=marker.symbol, size=13, color=marker.color, line=dict(width=2)),
            name=name,
        )
    figure.add_vline(x=0.5, line=CHANCE)
    figure.update_layout(
        title=title,
        template="simple_white",
        xaxis=dict(title="ROC AUC", range=[0, 1.02]),
        **layout.layout(),
    )
    return figure


def reliability_figure(bins: Sequence[Sequence[float]], *, title: str) -> go.Figure:
    """Observed frequency (in %) against mean predicted probability per bin, with the ideal
    line; each bin is labelled with its number of patients and share of all of them."""
    mean_pred = [b[0] for b in bins]
    observed = [b[1] for b in bins]
    counts = [int(b[2]) for b in bins]
    total = max(sum(counts), 1)
    labels = [f"n={c} ({c / total:.0%})" for c in counts]
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=CHANCE, name="ideal")
    figure.add_scatter(
        x=mean_pred,
        y=observed,
        mode="lines+markers+text",
        name="model (marker size: patients in the bin)",
        marker=dict(size=[6 + 14 * c / max(max(counts), 1) for c in counts], color=PALETTE[0]),
        text=labels,
        textposition="top left",
        textfont=dict(size=10),
        customdata=np.stack([counts, [c / total for c in counts]], axis=1),
        hovertemplate="predicted %{x:.0%}, observed %{y:.0%} "
        "(n=%{customdata[0]}, %{customdata[1]:.0%} of patients)<extra></extra>",
    )
    figure.update_layout(
        title=title,
        template="simple_white",
        height=420,
        width=460,
        xaxis=dict(title="Predicted probability", range=[0, 1], tickformat=".0%"),
        yaxis=dict(title="Observed frequency", range=[0, 1.05], tickformat=".0%"),
        legend=dict(orientation="h", y=-0.2),
    )
    return figure


def confusion_figure(matrix: pd.DataFrame, *, title: str) -> go.Figure:
    """Heat map, true class in rows, predicted class in columns: each cell's count and its
    share of the true class (the row), which the colour shows; the rows' sizes label the
    axis."""
    counts = matrix.to_numpy(dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    text = [
        [f"{int(c)}<br>{p:.0%}" for c, p in zip(row_c, row_p, strict=True)]
        for row_c, row_p in zip(counts, share, strict=True)
    ]
    figure = go.Figure(
        go.Heatmap(
            z=share,
            x=[str(c) for c in matrix.columns],
            y=[f"{i} (n={int(t)})" for i, t in zip(matrix.index, totals[:, 0], strict=True)],
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=text,
            texttemplate="%{text}",
            showscale=False,
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title,
        template="simple_white",
        height=380,
        xaxis_title="Predicted",
        yaxis=dict(title="True (% of the row)", autorange="reversed"),
    )
    return figure
