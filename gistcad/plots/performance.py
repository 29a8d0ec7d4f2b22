"""Figures of model performance: ROC per center, AUC forest with baselines and ceiling,
reliability diagram, confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
CHANCE = dict(color="#999999", dash="dot")


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


def auc_forest(
    rows: pd.DataFrame,
    *,
    title: str,
    references: Mapping[str, Mapping[str, float]] | None = None,
) -> go.Figure:
    """AUC with CI per center and pooled (rows: center, auc, auc_ci_lower, auc_ci_upper, n).

    ``references`` adds markers on the same axes: e.g. ``{"clinical baseline": {center: auc},
    "ceiling": {center: auc}}``. A dotted line marks chance (0.5).
    """
    order = list(rows["center"])[::-1]
    lower = (rows["auc"] - rows["auc_ci_lower"]).fillna(0)
    upper = (rows["auc_ci_upper"] - rows["auc"]).fillna(0)
    figure = go.Figure()
    figure.add_scatter(
        x=rows["auc"],
        y=rows["center"],
        mode="markers",
        marker=dict(symbol="square", size=10, color=PALETTE[0]),
        error_x=dict(type="data", array=upper, arrayminus=lower, thickness=1.5),
        name="model (95 % CI)",
        customdata=np.stack([rows["n"]], axis=1),
        hovertemplate="%{y}: AUC %{x:.3f} (n=%{customdata[0]})<extra></extra>",
    )
    symbols = ("diamond-open", "line-ns-open", "circle-open", "x")
    for i, (name, values) in enumerate((references or {}).items()):
        present = [c for c in order if c in values and np.isfinite(values[c])]
        figure.add_scatter(
            x=[values[c] for c in present],
            y=present,
            mode="markers",
            marker=dict(
                symbol=symbols[i % len(symbols)],
                size=12,
                color=PALETTE[(i + 1) % len(PALETTE)],
                line=dict(width=2),
            ),
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


def reliability_figure(bins: Sequence[Sequence[float]], *, title: str) -> go.Figure:
    """Observed frequency against mean predicted probability per bin, with the ideal line."""
    mean_pred = [b[0] for b in bins]
    observed = [b[1] for b in bins]
    counts = [int(b[2]) for b in bins]
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", line=CHANCE, name="ideal")
    figure.add_scatter(
        x=mean_pred,
        y=observed,
        mode="lines+markers",
        name="model",
        marker=dict(size=[6 + 14 * c / max(counts) for c in counts], color=PALETTE[0]),
        customdata=counts,
        hovertemplate="predicted %{x:.2f}, observed %{y:.2f} (n=%{customdata})",
    )
    figure.update_layout(
        title=title,
        template="simple_white",
        height=420,
        width=460,
        xaxis=dict(title="Predicted probability", range=[0, 1]),
        yaxis=dict(title="Observed frequency", range=[0, 1]),
    )
    return figure


def confusion_figure(matrix: pd.DataFrame, *, title: str) -> go.Figure:
    """Heat map of counts, true class in rows, predicted class in columns."""
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[str(c) for c in matrix.columns],
            y=[str(i) for i in matrix.index],
            colorscale="Blues",
            text=matrix.to_numpy(),
            texttemplate="%{text}",
            showscale=False,
        )
    )
    figure.update_layout(
        title=title,
        template="simple_white",
        height=380,
        xaxis_title="Predicted",
        yaxis=dict(title="True", autorange="reversed"),
    )
    return figure
