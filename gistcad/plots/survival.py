"""Kaplan–Meier figures laid out as in a clinical paper.

Step curves with shaded pointwise confidence bands and censoring ticks, and a number-at-risk
table aligned under the time ticks (Morris et al., KMunicate, BMJ Open 2019;9:e030215). Each
panel has its title and its own legend; ordered groups (risk classes, intervals of a number)
are drawn lowest first with an ordered palette; the time ticks run across the whole
follow-up; the log-rank p, each group's median and hazard ratio (95 % CI) sit in a corner of
the panel that no curve crosses. Every number drawn comes from a
:class:`~gistcad.analysis.comparison.SurvivalComparison`; nothing is re-estimated here (the
number at risk at a tick is read off the curve's risk sets).

Each group contributes four traces, tagged in ``trace.meta`` as ``{"group": ..., "role": ...}``
with roles ``"band"``, ``"curve"``, ``"censored"`` and ``"at_risk"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from numpy.typing import ArrayLike, NDArray
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from gistcad.analysis.comparison import SurvivalComparison
from gistcad.analysis.grouping import is_unknown
from gistcad.analysis.kaplan_meier import KaplanMeierCurve
from gistcad.errors import ValidationError

# Okabe & Ito's colour-blind-safe palette.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
#: Ordered groups, lowest first: dark blue, light blue, orange, dark red (ColorBrewer's RdBu
#: without its white middle; readable with the common colour-vision deficiencies).
ORDERED_SCALE = [[0.0, "#2166AC"], [1 / 3, "#67A9CF"], [2 / 3, "#EF8A62"], [1.0, "#B2182B"]]
#: Groups without a value ("Unknown", "No prediction", ...): grey, dashed.
UNKNOWN_COLOUR = "#7F7F7F"
BAND_OPACITY = 0.15
#: Tick steps the time axis chooses from (months first: 6, 12, 24...; years and days too),
#: the smallest that gives at most MAX_TICKS ticks.
TICK_STEPS = (0.25, 0.5, 1, 2, 3, 6, 12, 24, 36, 48, 60, 120, 240, 365, 730, 1825, 3650)
MAX_TICKS = 11
CURVES_PX, TABLE_ROW_PX, GAP_PX = 400, 22, 70
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


def _colours(groups: Sequence[str], *, ordered: bool = False) -> dict[str, str]:
    """A colour per group: ordered groups along :data:`ORDERED_SCALE` in their order, others
    from :data:`PALETTE`; groups without a value grey."""
    valued = [group for group in groups if not is_unknown(group)]
    if ordered and len(valued) > 1:
        scale = sample_colorscale(ORDERED_SCALE, len(valued), colortype="rgb")
        colours = {group: _hex(colour) for group, colour in zip(valued, scale, strict=True)}
    else:
        colours = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(valued)}
    return {group: colours.get(group, UNKNOWN_COLOUR) for group in groups}


def _hex(colour: str) -> str:
    """``"rgb(33, 102, 172)"`` as ``"#2166AC"``."""
    red, green, blue = (round(float(v)) for v in colour[colour.index("(") + 1 : -1].split(","))
    return f"#{red:02X}{green:02X}{blue:02X}"


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
        legend=meta["legend"],
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
        line={
            "color": colour,
            "width": 2,
            "shape": "hv",
            "dash": "dash" if colour == UNKNOWN_COLOUR else "solid",
        },
        name=name,
        legend=meta["legend"],
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
        legend=meta["legend"],
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "censored"},
        hovertemplate="censored at t = %{x}<extra></extra>",
    )


def tick_values(last_time: float) -> NDArray[np.float64]:
    """Time ticks from 0 across the whole follow-up: a round step (:data:`TICK_STEPS`), at
    most :data:`MAX_TICKS` ticks, the last one at or beyond ``last_time``.

    >>> tick_values(215.0).tolist()[-3:]
    [168.0, 192.0, 216.0]
    """
    span = max(float(last_time), 1e-9)
    step = next((s for s in TICK_STEPS if span / s <= MAX_TICKS - 1), None)
    if step is None:
        step = float(10 ** math.ceil(math.log10(span / (MAX_TICKS - 1))))
    count = math.ceil(span / step - 1e-9)
    return np.arange(count + 1, dtype=float) * float(step)


def at_risk_at(curve: KaplanMeierCurve, times: ArrayLike) -> NDArray[np.int64]:
    """Patients still followed (time ≥ t) at each of ``times``, read off the curve's risk
    sets: the risk set of the first observed time at or after t, 0 beyond the last."""
    wanted = np.asarray(times, dtype=float)
    index = np.searchsorted(curve.times, wanted, side="left")
    counts = np.append(curve.n_at_risk, 0)
    return np.asarray(counts[index], dtype=np.int64)


def _at_risk_trace(
    curve: KaplanMeierCurve,
    label: str,
    times: NDArray[np.float64],
    colour: str,
    meta: dict[str, str],
) -> go.Scatter:
    return go.Scatter(
        x=times,
        y=[label] * len(times),
        mode="text",
        text=[str(int(count)) for count in at_risk_at(curve, times)],
        textfont={"color": colour, "size": 12},
        showlegend=False,
        legend=meta["legend"],
        legendgroup=meta["legendgroup"],
        meta={**meta, "role": "at_risk"},
        hoverinfo="skip",
    )


def _at_risk_times(
    comparison: SurvivalComparison, requested: ArrayLike | None
) -> NDArray[np.float64] | None:
    """The requested times of the at-risk table (among ``comparison.times``); None: the ticks."""
    if requested is None:
        return None
    available = np.asarray(comparison.times, dtype=float)
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


def _ci(value: float, low: float, high: float) -> str:
    def number(x: float) -> str:
        return f"{x:.2f}" if np.isfinite(x) else "NR"

    return f"{number(value)} ({number(low)}–{number(high)})"


def statistics_lines(
    comparison: SurvivalComparison, labels: Mapping[str, str], time_label: str
) -> list[str]:
    """What the panel states: the log-rank p (and the trend test's), then per group its
    median (95 % CI) and its hazard ratio (95 % CI) against the reference group.

    The medians are the summary's ``median_text``; the hazard ratios the Cox table's rows
    of the grouping (``variable == "group"``); groups left out of the model say so.
    """
    lines = [_logrank_text(comparison)]
    if comparison.trend is not None:
        lines.append(f"Log-rank test for trend {format_p_value(comparison.trend.p_value)}")
    medians = dict(zip(comparison.summary["group"], comparison.summary["median_text"], strict=True))
    ratios: dict[str, str] = {}
    if comparison.cox is not None:
        rows = comparison.cox.table[comparison.cox.table["variable"] == "group"]
        for row in rows.itertuples(index=False):
            ratios[str(row.level)] = "HR " + _ci(
                float(row.hr), float(row.ci_lower), float(row.ci_upper)
            )
        if comparison.reference is not None:
            ratios[comparison.reference] = "HR 1 (reference)"
    lines.append(f"Median, {time_label.split(' ')[0].lower()} (95 % CI); hazard ratio (95 % CI)")
    for group in comparison.groups:
        median = str(medians.get(group, "—"))
        ratio = ratios.get(group, "HR not estimated")
        lines.append(f"{labels.get(group, group)}: median {median}; {ratio}")
    return lines


def _free_corner(
    comparison: SurvivalComparison, x_end: float, width: float, height: float
) -> tuple[str, str] | None:
    """The first corner of the curves' panel (``(xanchor, yanchor)``) whose box of
    ``width`` × ``height`` (fractions of the axes, the time axis ending at ``x_end``) no
    curve crosses: bottom left, bottom right, then top right (every curve starts at the top
    left). None when each is crossed."""
    margin = 0.03
    for x_anchor, y_anchor in (("left", "bottom"), ("right", "bottom"), ("right", "top")):
        x0, x1 = (0.0, width * x_end) if x_anchor == "left" else ((1 - width) * x_end, x_end)
        y0, y1 = (0.0, height * 1.02) if y_anchor == "bottom" else (1.02 * (1 - height), 1.02)
        if not any(
            _crosses(curve, x0, x1, y0 - margin, y1 + margin)
            for curve in comparison.curves.values()
        ):
            return x_anchor, y_anchor
    return None


def _crosses(curve: KaplanMeierCurve, x0: float, x1: float, y0: float, y1: float) -> bool:
    """Whether the step curve (drawn from 0 to its last time) enters the box."""
    starts = np.concatenate(([0.0], curve.times))
    ends = np.concatenate((curve.times, [curve.times[-1]]))
    values = np.concatenate(([1.0], curve.survival))
    inside = (starts <= x1) & (ends >= x0)
    if not inside.any():
        return False
    shown = values[inside]
    return bool(shown.min() <= y1 and shown.max() >= y0)


def _add_comparison(
    figure: go.Figure,
    comparison: SurvivalComparison,
    *,
    col: int,
    colours: Mapping[str, str],
    labels: Mapping[str, str],
    at_risk_times: NDArray[np.float64] | None,
    time_label: str,
    x_end: float,
    panel_px: float,
) -> None:
    """Draw one comparison into column ``col``: curves in row 1, at-risk table in row 2."""
    display = [labels.get(group, group) for group in comparison.groups]
    legend = "legend" if col == 1 else f"legend{col}"
    ticks = tick_values(x_end) if at_risk_times is None else at_risk_times
    for group, label in zip(comparison.groups, display, strict=True):
        curve, colour = comparison.curves[group], colours[group]
        meta = {"group": group, "legendgroup": f"{col}:{group}", "legend": legend}
        figure.add_trace(_band_trace(curve, colour, meta), row=1, col=col)
        figure.add_trace(
            _curve_trace(curve, colour, f"{label} (n={curve.n})", meta), row=1, col=col
        )
        figure.add_trace(_censor_trace(curve, colour, meta), row=1, col=col)
        figure.add_trace(_at_risk_trace(curve, label, ticks, colour, meta), row=2, col=col)
    right_end = max(x_end, float(ticks.max(initial=0.0)))
    _style_axes(figure, col, right_end, ticks, display, time_label)
    lines = statistics_lines(comparison, labels, time_label)
    width = min(0.95, (max(len(line) for line in lines) * 6.0 + 16) / panel_px)
    height = min(0.95, (len(lines) * 15 + 10) / CURVES_PX)
    corner = _free_corner(comparison, right_end * 1.03, width, height)
    # no free corner: under the at-risk table, where no curve runs
    x_anchor, y_anchor = corner or ("left", "top")
    figure.add_annotation(
        text="<br>".join(lines),
        x=0.01 if x_anchor == "left" else 0.99,
        y=(0.02 if y_anchor == "bottom" else 0.98) if corner else 0.0,
        yshift=0 if corner else -6,
        xref="x domain",
        yref="y domain",
        xanchor=x_anchor,
        yanchor=y_anchor,
        align="left",
        showarrow=False,
        font={"size": 11},
        bgcolor="rgba(255,255,255,0.85)",
        name="statistics",
        row=1 if corner else 2,
        col=col,
    )
    if corner is None:
        below = len(lines) * 15 + 30
        figure.update_layout(
            margin={"b": max(below, figure.layout.margin.b or 0)},
            height=(figure.layout.height or 0) + max(0, below - (figure.layout.margin.b or 0)),
        )
    figure.add_annotation(
        text="<b>Number at risk</b>",
        x=0.0,
        y=1.0,
        xref="x domain",
        yref="y domain",
        xanchor="left",
        yanchor="top",
        showarrow=False,
        font={"size": 12},
        name="at_risk_title",
        row=2,
        col=col,
    )


def _style_axes(
    figure: go.Figure,
    col: int,
    right_end: float,
    ticks: NDArray[np.float64],
    display: list[str],
    time_label: str,
) -> None:
    """Time ticks at the at-risk times under the curves; a bare axis under the table, whose
    top row is left free for its title."""
    span = right_end if right_end > 0 else 1.0
    # A margin left of 0 keeps the at-risk numbers at time 0 clear of the row labels.
    x_range = [-0.04 * span, span * 1.03]
    figure.update_xaxes(
        range=x_range,
        tickvals=ticks.tolist(),
        ticktext=[f"{t:g}" for t in ticks],
        title_text=time_label,
        showticklabels=True,
        row=1,
        col=col,
    )
    figure.update_xaxes(range=x_range, visible=False, row=2, col=col)
    figure.update_yaxes(
        range=[0.0, 1.02],
        title_text="Survival probability" if col == 1 else "",
        row=1,
        col=col,
    )
    figure.update_yaxes(
        categoryorder="array",
        categoryarray=display[::-1],
        range=[-0.6, len(display) - 0.4 + 0.9],
        showline=False,
        ticks="",
        showgrid=False,
        row=2,
        col=col,
    )


def _figure(columns: int, rows: int, title: str | None) -> tuple[go.Figure, float]:
    """The subplots (curves over the at-risk table per column) and a panel's width in px."""
    table_px = TABLE_ROW_PX * (rows + 1.6)
    plot_px = CURVES_PX + GAP_PX + table_px
    figure = make_subplots(
        rows=2,
        cols=columns,
        shared_xaxes=True,
        row_heights=[CURVES_PX / (CURVES_PX + table_px), table_px / (CURVES_PX + table_px)],
        vertical_spacing=GAP_PX / plot_px,
        horizontal_spacing=0.1,
    )
    top = 100 if title else 80
    width = 900 if columns == 1 else 1500
    left, right = 140, 30
    figure.update_layout(
        template="simple_white",
        height=round(plot_px + top + 40),
        width=width,
        margin={"t": top, "l": left, "r": right, "b": 40},
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"}
        if title
        else None,
    )
    panel_px = (width - left - right) * (1.0 if columns == 1 else 0.45)
    return figure, panel_px


def _panel_header(figure: go.Figure, col: int, columns: int, title: str | None) -> None:
    """A panel's title and, under it, the panel's own legend, over the panel's width."""
    axis = figure.layout["xaxis" if col == 1 else f"xaxis{col}"]
    x0 = float(axis.domain[0])
    name = "legend" if col == 1 else f"legend{col}"
    figure.update_layout(
        {
            name: {
                "x": x0,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "left",
                "yanchor": "bottom",
                "orientation": "h",
                "font": {"size": 12},
                "title": {"text": ""},
            }
        },
        showlegend=True,
    )
    if title:
        figure.add_annotation(
            text=f"<b>{title}</b>",
            x=x0,
            y=1.0,
            xref="paper",
            yref="paper",
            xanchor="left",
            yanchor="bottom",
            yshift=34,
            showarrow=False,
            font={"size": 14},
            name="panel_title",
        )


def _last_time(comparisons: Sequence[SurvivalComparison]) -> float:
    return max(
        float(curve.times[-1]) for comparison in comparisons for curve in comparison.curves.values()
    )


def km_figure(
    comparison: SurvivalComparison,
    *,
    title: str,
    time_label: str = "Months",
    at_risk_times: ArrayLike | None = None,
    group_labels: Mapping[str, str] | None = None,
    ordered: bool = False,
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
        Times of the ticks and of the number-at-risk table; must be among
        ``comparison.times``. Default: round ticks from 0 across the whole follow-up
        (:func:`tick_values`), the numbers at risk read off the curves.
    group_labels : Mapping[str, str], optional
        Display names, e.g. ``{"kit11": "KIT exon 11"}``; legend entries add "(n=…)".
    ordered : bool, default False
        The groups are ordered categories, lowest first (risk classes, intervals): drawn
        with an ordered palette. A comparison with a trend test is taken as ordered.

    Returns
    -------
    plotly.graph_objects.Figure
        Row 1: per group a CI band, the step curve and censoring ticks; row 2: the
        at-risk counts under the ticks. The statistics (:func:`statistics_lines`) are an
        annotation in a free corner.
    """
    figure, panel_px = _figure(1, len(comparison.groups), title)
    _add_comparison(
        figure,
        comparison,
        col=1,
        colours=_colours(comparison.groups, ordered=ordered or comparison.trend is not None),
        labels=dict(group_labels or {}),
        at_risk_times=_at_risk_times(comparison, at_risk_times),
        time_label=time_label,
        x_end=_last_time([comparison]),
        panel_px=panel_px,
    )
    _panel_header(figure, 1, 1, None)
    return figure


def km_panels(
    left: SurvivalComparison,
    right: SurvivalComparison,
    titles: tuple[str, str],
    *,
    time_label: str = "Months",
    at_risk_times: ArrayLike | None = None,
    group_labels: Mapping[str, str] | None = None,
    ordered: bool = False,
) -> go.Figure:
    """Two Kaplan–Meier figures side by side, e.g. predicted vs true genotype.

    Built by the same code as :func:`km_figure`; a group keeps its colour in both panels,
    both share the time ticks, and each panel has its title with its own legend under it.

    Parameters
    ----------
    left, right : SurvivalComparison
    titles : tuple of str
        Titles of the left and right panel.
    time_label, at_risk_times, group_labels, ordered
        As in :func:`km_figure`; ``at_risk_times`` must be among both comparisons' times.

    Returns
    -------
    plotly.graph_objects.Figure
    """
    groups = list(dict.fromkeys([*left.groups, *right.groups]))
    colours = _colours(groups, ordered=ordered)
    labels = dict(group_labels or {})
    figure, panel_px = _figure(2, max(len(left.groups), len(right.groups)), None)
    x_end = _last_time([left, right])
    for col, comparison in ((1, left), (2, right)):
        _add_comparison(
            figure,
            comparison,
            col=col,
            colours=colours,
            labels=labels,
            at_risk_times=_at_risk_times(comparison, at_risk_times),
            time_label=time_label,
            x_end=x_end,
            panel_px=panel_px,
        )
        _panel_header(figure, col, 2, titles[col - 1])
    return figure
