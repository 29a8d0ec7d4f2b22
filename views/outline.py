"""Outlining the tumour in the case view.

- A click in the CT viewer's "outline" mode (:func:`clicked_outline`): the click's point is
  kept in the session, the outline grown from it (cached per click and tolerance) is shown in
  the viewer, its measures under it, with a tolerance slider that re-grows from the same click
  and "Save outline" (:func:`outline_controls`).
- The "Outline tumour by slice numbers" form (:func:`outline_form`): the same growth from the
  point's slice numbers as the viewer shows them, for keyboard users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from gistcad.domain import SEGMENTATION_SOURCE_LABELS, SegmentationSource
from gistcad.errors import GistcadError
from gistcad.segmentation import GrowOptions
from gistcad.store import session_scope
from gistcad.viewer.outline import PLANES, ViewerOutline, outline_for_viewer
from views.common import engine, scope, settings, show_error
from views.viewer import VIEWER_KEY

#: session keys: the click being outlined (pseudonym, click id, (x, y, z) RAS mm), the id of
#: the last viewer click taken, the tolerance slider, and the message of the last save
CLICK, TAKEN, TOLERANCE, SAVED = (
    "outline_click",
    "outline_click_taken",
    "outline_click_tolerance",
    "outline_click_saved",
)


@dataclass(frozen=True)
class ClickedOutline:
    """The outline of the case's last viewer click: grown, refused (``error``), or no click."""

    click_id: str | None = None
    tolerance_hu: float | None = None
    grown: ViewerOutline | None = None
    error: GistcadError | None = None

    @property
    def key(self) -> str | None:
        """What identifies the overlay in the browser (None: no outline to show)."""
        return None if self.grown is None else f"{self.click_id}@{self.tolerance_hu:g}"


@st.cache_data(max_entries=8, show_spinner="Growing the outline…")
def _grown(
    user: str, pseudonym: str, volume_sha256: str, click_mm: tuple[float, ...], tolerance: float
) -> ViewerOutline:
    """The outline from one click (not saved); the user and the CT's sha256 key the cache."""
    del user, volume_sha256
    with session_scope(engine()) as session:
        return outline_for_viewer(
            session, scope(), settings().layout, pseudonym, click_mm, tolerance_hu=tolerance
        )


def _take_click(pseudonym: str) -> None:
    """A new click of the viewer (its component value) becomes the click being outlined."""
    value: Any = st.session_state.get(VIEWER_KEY)
    if not isinstance(value, dict) or value.get("id") == st.session_state.get(TAKEN):
        return
    st.session_state[TAKEN] = value.get("id")
    mm = value.get("mm")
    if isinstance(mm, list) and len(mm) == 3:
        st.session_state[CLICK] = (pseudonym, str(value["id"]), tuple(float(v) for v in mm))


def clicked_outline(pseudonym: str, volume_sha256: str) -> ClickedOutline:
    """The outline grown from the viewer's last click on this case, at the slider's tolerance."""
    _take_click(pseudonym)
    click = st.session_state.get(CLICK)
    if click is None or click[0] != pseudonym:
        return ClickedOutline()
    tolerance = float(st.session_state.get(TOLERANCE, GrowOptions().tolerance_hu))
    try:
        grown = _grown(scope().user, pseudonym, volume_sha256, click[2], tolerance)
    except GistcadError as exc:
        return ClickedOutline(click[1], tolerance, error=exc)
    return ClickedOutline(click[1], tolerance, grown)


def outline_controls(pseudonym: str, outline: ClickedOutline) -> None:
    """The clicked outline's measures, the tolerance slider, "Save outline" and "Discard"."""
    if SAVED in st.session_state:
        st.success(st.session_state.pop(SAVED), icon=":material/check_circle:")
    if outline.click_id is None:
        st.caption(
            'To outline the tumour: choose "Outline: click inside the tumour" as the left '
            "button's tool above the CT, then click near the tumour's centre."
        )
        return
    if outline.error is not None:
        show_error(outline.error)
    grown = outline.grown
    if grown is not None:
        result = grown.result
        sagittal, coronal, axial = grown.seed_slices
        cols = st.columns(3)
        cols[0].metric(
            "Outline volume", f"{result.volume_ml:.{0 if result.volume_ml >= 100 else 1}f} mL"
        )
        cols[1].metric("Longest axial diameter", f"{result.longest_axial_diameter_mm:.0f} mm")
        cols[2].metric("Mean attenuation", f"{result.mean_hu:.0f} HU")
        st.caption(
            f"New outline (green, not saved yet), grown from axial slice {axial}, coronal "
            f"slice {coronal}, sagittal slice {sagittal}."
        )
    st.slider(
        "Outline tolerance (HU)",
        10,
        200,
        int(GrowOptions().tolerance_hu),
        step=5,
        key=TOLERANCE,
        help="Half-width of the intensity range around the click; the outline re-grows from "
        "the same click. Lower it if the outline runs into neighbouring organs.",
    )
    save, discard = st.columns(2)
    if discard.button("Discard the outline", key="outline_click_discard"):
        st.session_state.pop(CLICK, None)
        st.rerun()
    if not save.button("Save outline", key="outline_click_save", disabled=grown is None):
        return
    try:
        with session_scope(engine()) as session:
            saved = outline_for_viewer(
                session,
                scope(),
                settings().layout,
                pseudonym,
                st.session_state[CLICK][2],
                tolerance_hu=outline.tolerance_hu,
                save=True,
            ).result
    except GistcadError as exc:
        show_error(exc)
        return
    st.session_state.pop(CLICK, None)
    st.session_state[SAVED] = (
        f"Outline saved as a semi-automatic segmentation ({saved.volume_ml:.1f} mL)."
    )
    st.rerun()


def outline_form(pseudonym: str, counts: tuple[int, int, int]) -> None:
    """The point as the viewer numbers it (sagittal, coronal and axial slices, from 1; their
    ``counts``), a tolerance slider, "Grow" and "Grow and save": for keyboard users."""
    label = SEGMENTATION_SOURCE_LABELS[SegmentationSource.SEMI_AUTOMATIC]
    with st.expander(f"Outline tumour by slice numbers — {label}"), st.form(key="outline_form"):
        st.caption(
            "Give a point inside the tumour (near its centre) by the slice numbers the "
            "viewer's status line shows; the outline grows in 3-D from there."
        )
        numbers = [
            column.number_input(
                f"{plane.capitalize()} slice", 1, count, (count + 1) // 2, key=f"outline_{plane}"
            )
            for column, plane, count in zip(st.columns(3), PLANES, counts, strict=True)
        ]
        tolerance = st.slider(
            "Tolerance (HU)",
            10,
            200,
            int(GrowOptions().tolerance_hu),
            step=5,
            key="outline_tolerance",
            help="Half-width of the intensity range around the point. Lower it if the outline "
            "runs into neighbouring organs.",
        )
        grow = st.form_submit_button("Grow")
        save = st.form_submit_button("Grow and save")
    if not (grow or save):
        return
    try:
        with session_scope(engine()) as session:
            result = outline_for_viewer(
                session,
                scope(),
                settings().layout,
                pseudonym,
                slices=(int(numbers[0]), int(numbers[1]), int(numbers[2])),
                tolerance_hu=float(tolerance),
                save=save,
            ).result
    except GistcadError as exc:
        show_error(exc)
        return
    st.success(
        f"Outline of {result.volume_ml:.1f} ml, longest axial diameter "
        f"{result.longest_axial_diameter_mm:.1f} mm, mean {result.mean_hu:.0f} HU"
        + (" — saved." if result.saved else " — not saved.")
    )
