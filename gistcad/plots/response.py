"""Figures of treatment response: waterfall, spider, swimmer, response rates, landmark survival.

Data frames from :func:`gistcad.followup.cohort.response_cohort` in, plotly figures out;
nothing is computed here but the drawing. Categories are coloured by one ordered palette,
from complete response (dark green) to progression (red), the same in every figure.

References
----------
.. [Gil10] Gillespie TW. Understanding waterfall plots. J Adv Pract Oncol 2012;3:106–111.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from gistcad.analysis.response_statistics import CATEGORY_ORDER, LandmarkSurvival
from gistcad.domain import (
    RESPONSE_CATEGORY_LABELS,
    RESPONSE_CRITERIA_LABELS,
    Endpoint,
    ResponseCategory,
    ResponseCriteria,
)
from gistcad.errors import ValidationError
from gistcad.plots.survival import PALETTE, km_figure

#: best to worst: an ordered palette (ColorBrewer RdYlGn ends, grey for the undecided)
CATEGORY_COLOURS: dict[ResponseCategory, str] = {
    ResponseCategory.COMPLETE: "#1a9850",
    ResponseCategory.PARTIAL: "#91cf60",
    ResponseCategory.STABLE: "#fee08b",
    ResponseCategory.NON_CR_NON_PD: "#fc8d59",
    ResponseCategory.PROGRESSION: "#d73027",
    ResponseCategory.NOT_EVALUABLE: "#bdbdbd",
}
NOT_ASSESSED = "Not assessed"
NOT_ASSESSED_COLOUR = "#f0f0f0"
#: thresholds drawn on the waterfall, by criteria and measure (fractions)
THRESHOLDS: dict[tuple[ResponseCriteria, str], tuple[float, ...]] = {
    (ResponseCriteria.RECIST_1_1, "size"): (-0.30, 0.20),
    (ResponseCriteria.CHOI, "size"): (-0.10, 0.10),
    (ResponseCriteria.CHOI, "density"): (-0.15,),
    (ResponseCriteria.RECIST_1_1, "density"): (),
}
MEASURES = {"size": "best_size_change", "density": "best_density_change"}
MEASURE_LABELS = {"size": "sum of diameters", "density": "mean attenuation (HU)"}
CATEGORY_SYMBOLS: dict[ResponseCategory, str] = {
    ResponseCategory.COMPLETE: "star",
    ResponseCategory.PARTIAL: "triangle-down",
    ResponseCategory.STABLE: "circle",
    ResponseCategory.NON_CR_NON_PD: "diamond",
    ResponseCategory.PROGRESSION: "x",
    ResponseCategory.NOT_EVALUABLE: "square-open",
}


def _label(code: object) -> str:
    if not isinstance(code, str):
        return NOT_ASSESSED
    return RESPONSE_CATEGORY_LABELS[ResponseCategory(code)]


def waterfall_figure(
    patients: pd.DataFrame,
    *,
    measure: str = "size",
    criteria: ResponseCriteria = ResponseCriteria.RECIST_1_1,
) -> go.Figure:
    """Best percent change per patient, largest growth on the left, coloured by best response.

    Parameters
    ----------
    patients
        Needs ``pseudonym``, ``best_size_change`` or ``best_density_change`` (fractions) and
        ``best_recist`` / ``best_choi`` (category codes).
    measure
        ``"size"`` (RECIST sum of diameters) or ``"density"`` (Choi mean HU).
    criteria
        Whose best response colours the bars, and whose thresholds are drawn as dashed lines.

    Returns
    -------
    plotly.graph_objects.Figure
        One bar trace per category present (in :data:`CATEGORY_ORDER`, then "Not assessed"),
        legend titled "Best response (<criteria>)"; patients without the measure left out.
    """
    if measure not in MEASURES:
        raise ValidationError(f"measure must be one of {sorted(MEASURES)}; got {measure!r}")
    column = MEASURES[measure]
    colour_by = "best_recist" if criteria is ResponseCriteria.RECIST_1_1 else "best_choi"
    shown = patients[patients[column].notna()].sort_values(column, ascending=False)
    if shown.empty:
        raise ValidationError(
            f"no patient has a {MEASURE_LABELS[measure]} measured at baseline and follow-up"
        )
    order = list(shown["pseudonym"])
    labels = shown[colour_by].map(_label)
    figure = go.Figure()
    named = [(RESPONSE_CATEGORY_LABELS[c], CATEGORY_COLOURS[c]) for c in CATEGORY_ORDER]
    for name, colour in [*named, (NOT_ASSESSED, NOT_ASSESSED_COLOUR)]:
        rows = shown[labels == name]
        if rows.empty:
            continue
        figure.add_trace(
            go.Bar(
                x=rows["pseudonym"],
                y=100 * rows[column].astype(float),
                name=name,
                marker={"color": colour, "line": {"color": "#555", "width": 0.5}},
                hovertemplate="%{x}: %{y:.0f} %<extra>" + name + "</extra>",
            )
        )
    for threshold in THRESHOLDS[(criteria, measure)]:
        figure.add_hline(
            y=100 * threshold,
            line={"dash": "dash", "color": "#444", "width": 1},
            annotation_text=f"{100 * threshold:+.0f} %",
            annotation_position="top left",
        )
    figure.update_layout(
        template="simple_white",
        title_text=f"Best change in {MEASURE_LABELS[measure]} from baseline",
        legend_title_text=f"Best response ({RESPONSE_CRITERIA_LABELS[criteria]})",
        showlegend=True,  # also for a single category: the colours need their key
        xaxis={"categoryorder": "array", "categoryarray": order, "title": "Patient"},
        yaxis={"title": "Best change from baseline (%)", "zeroline": True},
        bargap=0.15,
        height=480,
    )
    return figure


def spider_figure(
    assessments: pd.DataFrame,
    patients: pd.DataFrame,
    *,
    measure: str = "size",
    criteria: ResponseCriteria = ResponseCriteria.RECIST_1_1,
) -> go.Figure:
    """Change from baseline over time, one line per patient, coloured by best response.

    Parameters
    ----------
    assessments
        ``pseudonym``, ``months``, ``criteria``, ``size_change``, ``density_change`` per
        follow-up timepoint (the RECIST rows give the sum of diameters, the Choi rows the
        density).
    patients
        ``pseudonym`` with ``best_recist`` / ``best_choi`` (codes): the colour of each line.
    measure, criteria
        As in :func:`waterfall_figure`; every line starts at 0 % at month 0 (the baseline).
    """
    if measure not in MEASURES:
        raise ValidationError(f"measure must be one of {sorted(MEASURES)}; got {measure!r}")
    source = ResponseCriteria.RECIST_1_1 if measure == "size" else ResponseCriteria.CHOI
    column = f"{measure}_change"
    rows = assessments[(assessments["criteria"] == source.value) & assessments[column].notna()]
    if rows.empty:
        raise ValidationError(
            f"no patient has a {MEASURE_LABELS[measure]} measured at baseline and follow-up"
        )
    colour_by = "best_recist" if criteria is ResponseCriteria.RECIST_1_1 else "best_choi"
    best = dict(zip(patients["pseudonym"], patients[colour_by].map(_label), strict=True))
    colours = {RESPONSE_CATEGORY_LABELS[c]: CATEGORY_COLOURS[c] for c in CATEGORY_ORDER}
    figure = go.Figure()
    shown: set[str] = set()
    for name, lane in rows.sort_values("months").groupby("pseudonym", sort=True):
        label = best.get(str(name), NOT_ASSESSED)
        figure.add_trace(
            go.Scatter(
                x=[0.0, *lane["months"]],
                y=[0.0, *(100 * lane[column].astype(float))],
                mode="lines+markers",
                name=label,
                legendgroup=label,
                showlegend=label not in shown,
                line={"color": colours.get(label, "#969696"), "width": 1.5},
                hovertemplate=f"{name}: " + "%{y:.0f} % at %{x:.1f} months<extra></extra>",
            )
        )
        shown.add(label)
    for threshold in THRESHOLDS[(criteria, measure)]:
        figure.add_hline(y=100 * threshold, line={"dash": "dash", "color": "#444", "width": 1})
    figure.update_layout(
        template="simple_white",
        title_text=f"Change in {MEASURE_LABELS[measure]} over time",
        legend_title_text=f"Best response ({RESPONSE_CRITERIA_LABELS[criteria]})",
        showlegend=True,
        xaxis={"title": "Months from the start of treatment"},
        yaxis={"title": "Change from baseline (%)", "zeroline": True},
        height=440,
    )
    return figure


def swimmer_figure(
    lines: pd.DataFrame,
    assessments: pd.DataFrame,
    *,
    criteria: ResponseCriteria = ResponseCriteria.CHOI,
) -> go.Figure:
    """One lane per patient: treatment lines as bars, response at each CT as a marker.

    Parameters
    ----------
    lines
        ``pseudonym``, ``line``, ``drug``, ``dose_mg_per_day``, ``start_months``,
        ``stop_months`` (months from the first treatment start).
    assessments
        ``pseudonym``, ``months``, ``criteria`` and ``category`` (codes).
    criteria
        Whose categories are marked.
    """
    marks = assessments[assessments["criteria"] == criteria.value]
    names = sorted(set(lines["pseudonym"]) | set(marks["pseudonym"]))
    if not names:
        raise ValidationError("no treatment line and no assessed follow-up CT to draw")
    figure = go.Figure()
    drugs = sorted(set(lines["drug"]))
    for i, drug in enumerate(drugs):
        rows = lines[lines["drug"] == drug]
        length = (rows["stop_months"] - rows["start_months"]).fillna(0.0)
        figure.add_trace(
            go.Bar(
                y=rows["pseudonym"],
                x=length,
                base=rows["start_months"],
                orientation="h",
                name=drug.capitalize(),
                marker={"color": PALETTE[(i + 5) % len(PALETTE)], "opacity": 0.55},
                legendgroup="treatment",
                legendgrouptitle_text="Treatment line",
                hovertemplate="%{y}: %{base:.1f}–%{x:.1f} months<extra>" + drug + "</extra>",
            )
        )
    for category in CATEGORY_ORDER:
        rows = marks[marks["category"] == category.value]
        if rows.empty:
            continue
        figure.add_trace(
            go.Scatter(
                y=rows["pseudonym"],
                x=rows["months"],
                mode="markers",
                name=RESPONSE_CATEGORY_LABELS[category],
                marker={
                    "symbol": CATEGORY_SYMBOLS[category],
                    "size": 11,
                    "color": CATEGORY_COLOURS[category],
                    "line": {"color": "#222", "width": 1},
                },
                legendgroup="response",
                legendgrouptitle_text=f"Response ({RESPONSE_CRITERIA_LABELS[criteria]})",
            )
        )
    figure.update_layout(
        template="simple_white",
        title_text="Treatment and response over time",
        barmode="overlay",
        xaxis={"title": "Months from the start of treatment"},
        yaxis={
            "title": "",
            "categoryorder": "array",
            "categoryarray": names,
            "autorange": "reversed",  # the first patient at the top
        },
        height=max(320, 28 * len(names) + 160),
    )
    return figure


def response_rate_figure(rates: pd.DataFrame) -> go.Figure:
    """Objective response rate (CR or PR) with its confidence interval, per group.

    Parameters
    ----------
    rates
        ``criteria``, ``grouping``, ``group``, ``n``, ``responders``, ``rate``, ``ci_low``,
        ``ci_high`` (fractions); one panel per grouping, one colour per criteria.
    """
    if rates.empty:
        raise ValidationError("no assessed patient: there is no response rate to draw")
    groupings = list(dict.fromkeys(rates["grouping"]))
    figure = make_subplots(rows=1, cols=len(groupings), subplot_titles=groupings, shared_yaxes=True)
    for i, criteria in enumerate(dict.fromkeys(rates["criteria"])):
        for col, grouping in enumerate(groupings, start=1):
            rows = rates[(rates["criteria"] == criteria) & (rates["grouping"] == grouping)]
            figure.add_trace(
                go.Scatter(
                    x=rows["group"],
                    y=100 * rows["rate"],
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": 100 * (rows["ci_high"] - rows["rate"]),
                        "arrayminus": 100 * (rows["rate"] - rows["ci_low"]),
                    },
                    mode="markers",
                    marker={"size": 10, "color": PALETTE[i % len(PALETTE)]},
                    cliponaxis=False,
                    name=str(criteria),
                    legendgroup=str(criteria),
                    showlegend=col == 1,
                    offsetgroup=str(criteria),
                    text=[f"{r}/{n}" for r, n in zip(rows["responders"], rows["n"], strict=True)],
                    hovertemplate="%{x}: %{y:.0f} % (%{text})<extra>" + str(criteria) + "</extra>",
                ),
                row=1,
                col=col,
            )
    figure.update_yaxes(range=[-3, 103])
    figure.update_yaxes(title_text="Response rate, CR or PR (%)", col=1)
    figure.update_layout(
        template="simple_white",
        title_text="Objective response rate with 95 % confidence interval",
        legend_title_text="Criteria",
        scattermode="group",
        height=440,
    )
    return figure


def landmark_figure(result: LandmarkSurvival, endpoint: Endpoint) -> go.Figure:
    """Kaplan–Meier curves by response, counted from the landmark, which the figure states."""
    title = f"{endpoint.label} by response — {result.title} (after the start of treatment)"
    figure = km_figure(
        result.comparison,
        title=title,
        time_label=f"Months since the landmark ({result.landmark_time:g} months after the start)",
    )
    figure.add_annotation(
        text=f"Landmark at {result.landmark_time:g} months: patients with an event or "
        "censored before it are excluded",
        xref="paper",
        yref="paper",
        x=0,
        y=1.0,
        yanchor="bottom",
        xanchor="left",
        yshift=28,  # above the panel's legend
        showarrow=False,
        align="left",
        font={"size": 12},
    )
    return figure


def kappa_text(kappa: float, low: float, high: float) -> str:
    """ "κ = 0.40 (95 % CI 0.15–0.65)"; "κ not defined" when every rating is the same."""
    if not math.isfinite(kappa):
        return "κ not defined: every patient has the same category by both criteria"
    return f"κ = {kappa:.2f} (95 % CI {low:.2f} to {high:.2f})".replace("-", "−")
