"""One table of marker meanings, kept the same on every forest plot.

Filled markers are estimates of a model (or, on a hazard-ratio forest, of a group), each
drawn with its 95 % CI; open markers are references that are not models (the synthetic
ceiling); a dotted grey line is chance (AUC 0.5) or no effect (HR 1). The model a page is
about is always the blue filled square; the other models follow in the order of
:data:`MODEL_MARKERS`. Every forest takes its markers from here, and shows
:data:`MARKER_LEGEND` under it, so that a shape never changes meaning between pages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Marker:
    """A plotly marker symbol and colour, and what it stands for."""

    symbol: str
    color: str
    meaning: str


#: the models, the one a page is about first: filled shapes (Okabe–Ito colours)
MODEL_MARKERS: tuple[Marker, ...] = (
    Marker("square", "#0072B2", "the model shown, 95 % CI"),
    Marker("circle", "#D55E00", "another model, 95 % CI"),
    Marker("triangle-up", "#009E73", "another model, 95 % CI"),
    Marker("triangle-down", "#CC79A7", "another model, 95 % CI"),
    Marker("hexagon", "#E69F00", "another model, 95 % CI"),
    Marker("pentagon", "#56B4E9", "another model, 95 % CI"),
)
#: the synthetic ceiling: the AUC of the true generating probabilities (not a model)
CEILING_MARKER = Marker("diamond-open", "#000000", "synthetic ceiling (reference, not a model)")
#: the other references of a synthetic cohort (open shapes: not models), by name
SYNTHETIC_MARKERS: dict[str, Marker] = {
    "synthetic ceiling": CEILING_MARKER,
    "synthetic ceiling with age and sex": Marker(
        "diamond-tall-open", "#555555", "synthetic ceiling with age and sex"
    ),
    "synthetic observable reference": Marker(
        "star-open", "#000000", "synthetic observable reference: what the CT shows"
    ),
    "synthetic clinical oracle": Marker(
        "cross-open", "#777777", "synthetic clinical oracle: site, size, age and sex"
    ),
}
#: any other reference that is not a model
REFERENCE_MARKER = Marker("star-triangle-up-open", "#555555", "reference, not a model")
#: chance (AUC 0.5) or no effect (HR 1)
CHANCE_LINE = {"color": "#999999", "dash": "dot"}
MARKER_LEGEND = (
    "Markers: filled = a model with its 95 % CI (blue square: the model this page is about); "
    "open shapes = references of a synthetic cohort, not models (diamond: the ceiling given "
    "the exact phenotype; tall diamond: the same with age and sex; star: the observable "
    "reference, given what the CT shows; cross: the clinical oracle, given site, size, age "
    "and sex); dotted line = chance."
)


def is_reference(name: str) -> bool:
    """Whether the markers named ``name`` are a reference (not a model): the synthetic ones."""
    return name in SYNTHETIC_MARKERS or "ceiling" in name.lower()


def model_marker(index: int) -> Marker:
    """The marker of the ``index``-th model (0: the one the page is about)."""
    return MODEL_MARKERS[index % len(MODEL_MARKERS)]


def reference_marker(name: str) -> Marker:
    """The marker of reference ``name``: a synthetic reference's, the ceiling's, or the
    generic one."""
    if name in SYNTHETIC_MARKERS:
        return SYNTHETIC_MARKERS[name]
    return CEILING_MARKER if "ceiling" in name.lower() else REFERENCE_MARKER
