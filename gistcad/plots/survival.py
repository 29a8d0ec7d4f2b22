"""Kaplan–Meier figures laid out as in a clinical paper.

Step curves with shaded pointwise confidence bands and censoring ticks, the log-rank p, and a
number-at-risk table aligned under the time axis (Morris et al., KMunicate, BMJ Open
2019;9:e030215). Every number drawn comes from a
:class:`~gistcad.analysis.comparison.SurvivalComparison`; nothing is re-estimated here.

Each group contributes four traces, tagged in ``trace.meta`` as ``{"group": ..., "role": ...}``
with roles ``"band"``, ``"curve"``, ``"censored"`` and ``"at_risk"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray
from plotly.subplots import make_subplots

from gistcad.analysis.comparison import SurvivalComparison
from gistcad.analysis.kaplan_meier import KaplanMeierCurve
from gistcad.errors import ValidationError

# Okabe & Ito's colour-blind-safe palette.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
BAND_OPACITY = 0.15
ROLES = ("band", "curve", "censored", "at_risk")


def format_p_value(p_value: float | None) -> str:
    """A p-value as papers print it: ``"p < 0.001"``, ``"p = 0.012"``, ``"p = 0.43"``."""
    if p_value is None or not np.isfinite(p_value):
        return "p not available"
    if p_value < 0.001:
        return "p < 0.001"
    if p_value < 0.1:
        return f"p = {p_value:.2g}"
    return f"p = {p_value:.2f}"


def _rgba(colour: str, opacity: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{opacity})"


def _colours(groups: Sequence[str]) -> dict[str, str]:
    return {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}


def _steps(
    times: NDArray[np.float64], values: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Corner points of a right-continuous step function starting at (0, 1)."""
    x = np.concatenate(([0.0], np.repeat(times, 2)))
    y = np.concatenate(([1.0, 1.0], np.repeat(values[:-1], 2), values[-1:]))
    return x, y


def _band_trace(curve: KaplanMeierCurve, colour: str, meta: dict[str, str]) -> go.Scatter:
    x, upper = _steps(curve.times, curve.ci_upper)
    _, lower = _steps(curve.times, curve.ci_lower)
    return go.Scatter(
        x=np.concatenate((x, x[::-1])),
        y=np.concatenate((upper, lower[::-1])),
        fill="toself",
        fillcolor=_rgba(colour, BAND_OPACITY),
        line={"width": 0},
        mode="lines",
        hoverinfo="skip",
        showlegend=False,
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "band"},
    )


def _curve_trace(
    curve: KaplanMeierCurve, colour: str, name: str, meta: dict[str, str]
) -> go.Scatter:
    return go.Scatter(
        x=np.concatenate(([0.0], curve.times)),
        y=np.concatenate(([1.0], curve.survival)),
        mode="lines",
        line={"color": colour, "width": 2, "shape": "hv"},
        name=name,
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "curve"},
        hovertemplate="t = %{x}<br>S(t) = %{y:.3f}<extra>" + name + "</extra>",
    )


def _censor_trace(curve: KaplanMeierCurve, colour: str, meta: dict[str, str]) -> go.Scatter:
    censored = curve.n_censored > 0
    return go.Scatter(
        x=curve.times[censored],
        y=curve.survival[censored],
        mode="markers",
        marker={
            "symbol": "line-ns-open",
            "size": 9,
            "color": colour,
            "line": {"width": 1.5, "color": colour},
        },
        showlegend=False,
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "censored"},
        hovertemplate="censored at t = %{x}<extra></extra>",
    )


def _at_risk_trace(
    comparison: SurvivalComparison,
    group: str,
    label: str,
    times: NDArray[np.float64],
    colour: str,
    meta: dict[str, str],
) -> go.Scatter:
    table = comparison.at_risk[comparison.at_risk["group"] == group]
    rows = table[np.isin(table["time"].to_numpy(), times)]
    return go.Scatter(
        x=rows["time"].to_numpy(),
        y=[label] * len(rows),
        mode="text",
        text=[str(int(count)) for count in rows["at_risk"]],
        textfont={"color": colour},
        showlegend=False,
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "at_risk"},
        hoverinfo="skip",
    )


def _at_risk_times(
    comparison: SurvivalComparison, requested: ArrayLike | None
) -> NDArray[np.float64]:
    available = np.asarray(comparison.times, dtype=float)
    if requested is None:
        return available
    wanted = np.asarray(requested, dtype=float).ravel()
    missing = [float(t) for t in wanted if not np.isclose(available, t).any()]
    if missing:
        raise ValidationError(
            f"at_risk_times {missing} are not among the comparison's times "
            f"{list(comparison.times)}; pass them as `times` to compare_groups"
        )
    return available[[int(np.argmin(np.abs(available - t))) for t in wanted]]


def _logrank_text(comparison: SurvivalComparison) -> str:
    if comparison.logrank is None:
        return "Log-rank test not done (see notes)"
    return f"Log-rank {format_p_value(comparison.logrank.p_value)}"


def _add_comparison(
    figure: go.Figure,
    comparison: SurvivalComparison,
    *,
    col: int,
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    at_risk_times: NDArray[np.float64],
    time_label: str,
) -> None:
    """Draw one comparison into column ``col``: curves in row 1, at-risk table in row 2."""
    display = [labels.get(group, group) for group in comparison.groups]
    for group, label in zip(comparison.groups, display, strict=True):
        curve, colour = comparison.curves[group], colours[group]
        meta = {"group": group, "legendgroup": f"{col}:{group}"}
        figure.add_trace(_band_trace(curve, colour, meta), row=1, col=col)
        figure.add_trace(
            _curve_trace(curve, colour, f"{label} (n={curve.n})", meta), row=1, col=col
        )
        figure.add_trace(_censor_trace(curve, colour, meta), row=1, col=col)
        figure.add_trace(
            _at_risk_trace(comparison, group, label, at_risk_times, colour, meta), row=2, col=col
        )
    last_time = max(float(curve.times[-1]) for curve in comparison.curves.values())
    _style_axes(
        figure,
        col,
        max(last_time, float(at_risk_times.max(initial=0.0))),
        at_risk_times,
        display,
        time_label,
    )
    figure.add_annotation(
        text=_logrank_text(comparison),
        x=0.98,
        y=0.98,
        xref="x domain",
        yref="y domain",
        xanchor="right",
        yanchor="top",
        showarrow=False,
        row=1,
        col=col,
    )
    figure.add_annotation(
        text="Number at risk",
        x=0.0,
        y=1.12,
        xref="x domain",
        yref="y domain",
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        row=2,
        col=col,
    )


def _style_axes(
    figure: go.Figure,
    col: int,
    right_end: float,
    at_risk_times: NDArray[np.float64],
    display: list[str],
    time_label: str,
) -> None:
    """Time ticks at the at-risk times under the curves; a bare axis under the table."""
    span = right_end if right_end > 0 else 1.0
    # A margin left of 0 keeps the at-risk numbers at time 0 clear of the row labels.
    x_range = [-0.04 * span, span * 1.04]
    figure.update_xaxes(
        range=x_range,
        tickvals=at_risk_times.tolist(),
        title_text=time_label,
        showticklabels=True,
        row=1,
        col=col,
    )
    figure.update_xaxes(range=x_range, visible=False, row=2, col=col)
    figure.update_yaxes(
        range=[0.0, 1.02], title_text="Survival probability" if col == 1 else "", row=1, col=col
    )
    figure.update_yaxes(
        categoryorder="array",
        categoryarray=display[::-1],
        showline=False,
        ticks="",
        showgrid=False,
        row=2,
        col=col,
    )


def _figure(columns: int, titles: Sequence[str] | None) -> go.Figure:
    subplot_titles = None if titles is None else [*titles, *([""] * columns)]
    figure = make_subplots(
        rows=2,
        cols=columns,
        shared_xaxes=True,
        row_heights=[0.78, 0.22],
        vertical_spacing=0.14,
        horizontal_spacing=0.08,
        subplot_titles=subplot_titles,
    )
    figure.update_layout(
        template="simple_white", height=600, width=820 if columns == 1 else 1400, margin={"t": 80}
    )
    return figure


def km_figure(
    comparison: SurvivalComparison,
    *,
    title: str,
    time_label: str = "Months",
    at_risk_times: ArrayLike | None = None,
    group_labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """A Kaplan–Meier figure of one comparison, with its number-at-risk table.

    Parameters
    ----------
    comparison : SurvivalComparison
        From :func:`gistcad.analysis.comparison.compare_groups`.
    title : str
    time_label : str, default "Months"
        Label of the time axis, in the unit of the durations.
    at_risk_times : array_like, optional
        Times of the number-at-risk table; must be among ``comparison.times`` (the
        default, all of them), so the figure shows exactly ``comparison.at_risk``.
    group_labels : Mapping[str, str], optional
        Display names, e.g. ``{"kit11": "KIT exon 11"}``; legend entries add "(n=…)".

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: per group a CI band, the step curve and censoring ticks; row 2: the
        at-risk counts. The log-rank p is an annotation.
    """
    figure = _figure(1, None)
    _add_comparison(
        figure,
        comparison,
        col=1,
        colours=_colours(comparison.groups),
        labels=dict(group_labels or {}),
        at_risk_times=_at_risk_times(comparison, at_risk_times),
        time_label=time_label,
    )
    figure.update_layout(title_text=title)
    return figure


def km_panels(
    left: SurvivalComparison,
    right: SurvivalComparison,
    titles: tuple[str, str],
    *,
    time_label: str = "Months",
    at_risk_times: ArrayLike | None = None,
    group_labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Two Kaplan–Meier figures side by side, e.g. predicted vs true genotype.

    Built by the same code as :func:`km_figure`; a group keeps its colour in both panels.

    Parameters
    ----------
    left, right : SurvivalComparison
    titles : tuple of str
        Titles of the left and right panel.
    time_label, at_risk_times, group_labels
        As in :func:`km_figure`; ``at_risk_times`` must be among both comparisons' times.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    groups = list(dict.fromkeys([*left.groups, *right.groups]))
    colours, labels = _colours(groups), dict(group_labels or {})
    figure = _figure(2, titles)
    for col, comparison in ((1, left), (2, right)):
        _add_comparison(
            figure,
            comparison,
            col=col,
            colours=colours,
            labels=labels,
            at_risk_times=_at_risk_times(comparison, at_risk_times),
            time_label=time_label,
        )
    return figure
