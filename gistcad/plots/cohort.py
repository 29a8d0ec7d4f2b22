"""Figures of a cohort's make-up: counts by category, distributions of measurements.

Categories read as labels (:func:`gistcad.display.cell_text`), missing ones as "Not
recorded"; ordered categories (risk classes) in their order, lowest first, coloured from
blue to red; a histogram of a measurement that cannot be negative starts at 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from gistcad.analysis.grouping import RISK_ORDER, is_unknown
from gistcad.display import cell_text, column_label

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")
#: ordered categories, lowest first (the same scale as the Kaplan–Meier figures)
ORDERED_SCALE = [[0.0, "#2166AC"], [1 / 3, "#67A9CF"], [2 / 3, "#EF8A62"], [1.0, "#B2182B"]]
UNKNOWN_COLOUR = "#7F7F7F"
NOT_RECORDED = "Not recorded"
#: categories with an order: risk classes (any scheme's wording)
ORDERED_LEVELS: tuple[str, ...] = RISK_ORDER


def _label(value: object) -> str:
    shown = cell_text(value)
    return NOT_RECORDED if shown == "—" else str(shown)


def _labels(values: pd.Series) -> pd.Series:
    """:func:`_label` of every value, computed once per distinct value."""
    codes, distinct = pd.factorize(values)  # missing values: code -1, the last label
    labels = np.asarray([_label(v) for v in distinct] + [_label(None)], dtype=object)
    return pd.Series(labels[codes], index=values.index, dtype=object)


def _is_unknown(level: str) -> bool:
    return level == NOT_RECORDED or is_unknown(level)


def level_order(levels: list[str]) -> tuple[list[str], bool]:
    """``levels`` in display order and whether they are ordered: risk classes lowest first,
    others alphabetically; levels without a value last."""
    known = [level for level in levels if not _is_unknown(level)]
    ordered = bool(known) and all(level in ORDERED_LEVELS for level in known)
    if ordered:
        known.sort(key=ORDERED_LEVELS.index)
    else:
        known.sort()
    return known + sorted(level for level in levels if _is_unknown(level)), ordered


def level_colours(levels: list[str], ordered: bool) -> dict[str, str]:
    """A colour per level: ordered levels from blue to red, others from :data:`PALETTE`;
    levels without a value grey."""
    known = [level for level in levels if not _is_unknown(level)]
    if ordered and len(known) > 1:
        scale = sample_colorscale(ORDERED_SCALE, len(known), colortype="rgb")
        colours = dict(zip(known, scale, strict=True))
    else:
        colours = {level: PALETTE[i % len(PALETTE)] for i, level in enumerate(known)}
    return {level: colours.get(level, UNKNOWN_COLOUR) for level in levels}


def count_bars(cohort: pd.DataFrame, column: str, *, by: str, title: str) -> go.Figure:
    """Stacked bars: patients per level of ``column`` within each level of ``by``.

    One trace per level of ``column`` (labelled; missing values as "Not recorded"), in
    :func:`level_order`, x = levels of ``by``, y = counts; hover gives the count and the
    percentage within the ``by`` level.
    """
    data = pd.DataFrame({"x": _labels(cohort[by]), "level": _labels(cohort[column])})
    counts = data.groupby(["x", "level"]).size().unstack(fill_value=0)
    totals = counts.sum(axis=1)
    levels, ordered = level_order([str(c) for c in counts.columns])
    colours = level_colours(levels, ordered)
    figure = go.Figure()
    for level in levels:
        share = (counts[level] / totals * 100).round(1)
        figure.add_bar(
            name=level,
            x=counts.index.tolist(),
            y=counts[level].tolist(),
            marker_color=colours[level],
            customdata=share.tolist(),
            hovertemplate=f"{level}: %{{y}} patients (%{{customdata}} %)<extra>%{{x}}</extra>",
        )
    figure.update_layout(
        barmode="stack",
        title=title,
        template="simple_white",
        yaxis_title="Patients",
        legend_title=column_label(column),
        legend_traceorder="normal",
        height=380,
    )
    return figure


def distribution(
    cohort: pd.DataFrame, column: str, *, by: str | None = None, title: str, unit: str
) -> go.Figure:
    """Overlaid histograms of ``column`` (one per level of ``by``), missing values left out.

    The counts are binned here, not in the browser: each group is one bar trace of its
    patients per bin (x = bin centre, width = bin width; hover gives the bin's range), so the
    figure holds one number per bin whatever the size of the cohort. All groups share one
    set of bins of a round width, each bin ``[low, high)``; when no value is negative the
    first bin starts at 0 (no bar below 0 cm) and so does the axis.
    """
    figure = go.Figure()
    values = pd.to_numeric(cohort[column], errors="coerce").astype(float)
    present = values.notna().to_numpy()
    bins = _bins(values[present])
    if by is None:
        groups: list[tuple[object, np.ndarray]] = [("All", values.to_numpy()[present])]
    else:
        codes, levels = pd.factorize(cohort[by])
        kept, kept_codes = values.to_numpy()[present], codes[present]
        order = sorted(range(len(levels) + 1), key=lambda i: _group_key(levels, i))
        groups = [
            (levels[i] if i < len(levels) else None, kept[kept_codes == _code(i, levels)])
            for i in order
            if i < len(levels) or (codes == -1).any()
        ]
    edges = _edges(bins)
    for i, (name, part) in enumerate(groups):
        counts = np.histogram(part, bins=edges)[0] if edges is not None else np.zeros(0)
        centres = (edges[:-1] + edges[1:]) / 2 if edges is not None else np.zeros(0)
        ranges = (
            [[f"{lo:g}", f"{hi:g}"] for lo, hi in itertools.pairwise(edges)]
            if edges is not None
            else []
        )
        figure.add_bar(
            x=centres.tolist(),
            y=counts.astype(int).tolist(),
            width=bins["size"] if bins is not None else None,
            customdata=ranges,
            name=f"{_label(name)} (n={len(part)})",
            opacity=0.6 if by is not None else 0.9,
            marker_color=PALETTE[i % len(PALETTE)],
            hovertemplate=(
                f"{_label(name)}: %{{y}} patients<extra>%{{customdata[0]}}–%{{customdata[1]}} "
                f"{unit}</extra>"
            ),
        )
    if bins is not None and bins["start"] >= 0:
        figure.update_xaxes(range=[bins["start"], bins["end"]])
    figure.update_layout(
        barmode="overlay",
        bargap=0,
        title=title,
        template="simple_white",
        xaxis_title=unit,
        yaxis_title="Patients",
        height=380,
    )
    return figure


def _group_key(levels: pd.Index, i: int) -> tuple[int, str]:
    """Groups in the order ``groupby`` gives them: sorted levels, missing last."""
    return (1, "") if i >= len(levels) else (0, str(levels[i]))


def _code(i: int, levels: pd.Index) -> int:
    return -1 if i >= len(levels) else i


def _edges(bins: dict[str, float] | None) -> np.ndarray | None:
    """The edges of :func:`_bins`' bins, computed from the start (no accumulated rounding)."""
    if bins is None:
        return None
    n = round((bins["end"] - bins["start"]) / bins["size"])
    return np.round(bins["start"] + bins["size"] * np.arange(n + 1), 9)


def _bins(values: pd.Series) -> dict[str, float] | None:
    """About 20 bins of a round width (1, 2 or 5 × 10^k) over ``values``, the first starting
    at 0 when no value is negative; None without values."""
    if values.empty:
        return None
    low, high = float(values.min()), float(values.max())
    raw = max(high - min(low, 0.0), 1e-9) / 20
    power = 10 ** math.floor(math.log10(raw))
    size = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    start = 0.0 if low >= 0 else math.floor(low / size) * size
    end = start + (math.floor((high - start) / size) + 1) * size
    return {"start": start, "end": float(np.round(end, 9)), "size": size}
