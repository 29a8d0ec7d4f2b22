"""Outlining the tumour in the case view.

- A click in the CT viewer's "outline" mode (:func:`clicked_outline`): the click's point is
  kept in the session, the outline grown from it (cached per click and tolerance) is shown in
  the viewer, its measures under it, with a tolerance slider that re-grows from the same click,
  the viewer's add and erase brush strokes applied to it (undone one by one), and "Save
  outline" (:func:`outline_controls`).
- The "Outline tumour by slice numbers" form (:func:`outline_form`): the same growth from the
  point's slice numbers as the viewer shows them, for keyboard users.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import streamlit as st

from gistcad.domain import SEGMENTATION_SOURCE_LABELS, SegmentationSource
from gistcad.errors import GistcadError
from gistcad.segmentation import GrowOptions
from gistcad.store import session_scope
from gistcad.viewer.outline import PLANES, Stroke, ViewerOutline, outline_for_viewer
from views.common import engine, scope, settings, show_error
from views.viewer import VIEWER_KEY, slice_counts

#: session keys: the click being outlined (pseudonym, click id, (x, y, z) RAS mm), the brush
#: strokes painted on its outline since (the viewer's values), the id of the last viewer value
#: taken, a stroke refused, the tolerance slider, and the message of the last save
CLICK, STROKES, TAKEN, REFUSED, TOLERANCE, SAVED = (
    "outline_click",
    "outline_strokes",
    "outline_click_taken",
    "outline_stroke_refused",
    "outline_click_tolerance",
    "outline_click_saved",
)


@dataclass(frozen=True)
class ClickedOutline:
    """The outline of the case's last viewer click: grown, refused (``error``), or no click."""

    click_id: str | None = None
    tolerance_hu: float | None = None
    strokes: tuple[str, ...] = ()
    grown: ViewerOutline | None = None
    error: GistcadError | None = None

    @property
    def key(self) -> str | None:
        """What identifies the overlay in the browser (None: no outline to show)."""
        if self.grown is None:
            return None
        last = json.loads(self.strokes[-1])["id"] if self.strokes else ""
        return f"{self.click_id}@{self.tolerance_hu:g}/{len(self.strokes)}{last}"


def _strokes(strokes: tuple[str, ...]) -> list[Stroke]:
    return [Stroke.from_viewer(json.loads(stroke)) for stroke in strokes]


@st.cache_data(max_entries=8, show_spinner="Growing the outline…")
def _grown(
    user: str,
    pseudonym: str,
    volume_sha256: str,
    click_mm: tuple[float, ...],
    tolerance: float,
    strokes: tuple[str, ...],
) -> ViewerOutline:
    """The outline from one click with its strokes (not saved); the user and the CT's sha256
    key the cache."""
    del user, volume_sha256
    with session_scope(engine()) as session:
        return outline_for_viewer(
            session,
            scope(),
            settings().layout,
            pseudonym,
            click_mm,
            strokes=_strokes(strokes),
            tolerance_hu=tolerance,
        )


def _take(pseudonym: str) -> None:
    """A new value of the viewer: a click starts a new outline, a stroke corrects it."""
    value: Any = st.session_state.get(VIEWER_KEY)
    if not isinstance(value, dict) or value.get("id") == st.session_state.get(TAKEN):
        return
    st.session_state[TAKEN] = value.get("id")
    if value.get("kind", "click") == "click":
        mm = value.get("mm")
        if isinstance(mm, list) and len(mm) == 3:
            st.session_state[CLICK] = (pseudonym, str(value["id"]), tuple(float(v) for v in mm))
            st.session_state[STROKES] = []
        return
    click = st.session_state.get(CLICK)
    if click is None or click[0] != pseudonym:
        return
    try:
        Stroke.from_viewer(value)
    except GistcadError as exc:
        st.session_state[REFUSED] = str(exc)
        return
    st.session_state[STROKES] = [
        *st.session_state.get(STROKES, []),
        json.dumps(value, sort_keys=True),
    ]


def clicked_outline(pseudonym: str, volume_sha256: str) -> ClickedOutline:
    """The outline grown from the viewer's last click on this case, at the slider's tolerance,
    with the strokes painted on it."""
    _take(pseudonym)
    click = st.session_state.get(CLICK)
    if click is None or click[0] != pseudonym:
        return ClickedOutline()
    tolerance = float(st.session_state.get(TOLERANCE, GrowOptions().tolerance_hu))
    strokes = tuple(st.session_state.get(STROKES, []))
    try:
        grown = _grown(scope().user, pseudonym, volume_sha256, click[2], tolerance, strokes)
    except GistcadError as exc:
        return ClickedOutline(click[1], tolerance, strokes, error=exc)
    return ClickedOutline(click[1], tolerance, strokes, grown)


def _measures(grown: ViewerOutline, strokes: int) -> None:
    result = grown.result
    sagittal, coronal, axial = grown.seed_slices
    cols = st.columns(3)
    cols[0].metric(
        "Outline volume", f"{result.volume_ml:.{0 if result.volume_ml >= 100 else 1}f} mL"
    )
    cols[1].metric("Longest axial diameter", f"{result.longest_axial_diameter_mm:.0f} mm")
    cols[2].metric("Mean attenuation", f"{result.mean_hu:.0f} HU")
    corrections = f", corrected by {strokes} brush stroke{'s' * (strokes != 1)}" if strokes else ""
    st.caption(
        f"New outline (green, not saved yet), grown from axial slice {axial}, coronal "
        f"slice {coronal}, sagittal slice {sagittal}{corrections}. The brushes above the CT "
        "add to it or erase from it on the slice shown."
    )


def _save(pseudonym: str, outline: ClickedOutline) -> None:
    """Store the outline as shown (click, tolerance, strokes); the page reruns with the news."""
    try:
        with session_scope(engine()) as session:
            saved = outline_for_viewer(
                session,
                scope(),
                settings().layout,
                pseudonym,
                st.session_state[CLICK][2],
                strokes=_strokes(outline.strokes),
                tolerance_hu=outline.tolerance_hu,
                save=True,
            ).result
    except GistcadError as exc:
        show_error(exc)
        return
    for key in (CLICK, STROKES):
        st.session_state.pop(key, None)
    st.session_state[SAVED] = (
        f"Outline saved as a semi-automatic segmentation ({saved.volume_ml:.1f} mL)."
    )
    st.rerun()


def outline_controls(pseudonym: str, outline: ClickedOutline) -> None:
    """The clicked outline's measures, the tolerance slider, "Save outline", "Undo the last
    stroke" and "Discard"."""
    if SAVED in st.session_state:
        st.success(st.session_state.pop(SAVED), icon=":material/check_circle:")
    if outline.click_id is None:
        st.caption(
            'To outline the tumour: choose "Outline: click inside the tumour" as the left '
            "button's tool above the CT, then click near the tumour's centre."
        )
        return
    if REFUSED in st.session_state:
        st.error(st.session_state.pop(REFUSED), icon=":material/error:")
    if outline.error is not None:
        show_error(outline.error)
    if outline.grown is not None:
        _measures(outline.grown, len(outline.strokes))
    st.slider(
        "Outline tolerance (HU)",
        10,
        200,
        int(GrowOptions().tolerance_hu),
        step=5,
        key=TOLERANCE,
        help="Half-width of the intensity range around the click; the outline re-grows from "
        "the same click (and the strokes are painted again). Lower it if the outline runs "
        "into neighbouring organs.",
    )
    save, undo, discard = st.columns(3)
    if undo.button("Undo the last stroke", key="outline_undo", disabled=not outline.strokes):
        st.session_state[STROKES] = list(outline.strokes[:-1])
        st.rerun()
    if discard.button("Discard the outline", key="outline_click_discard"):
        for key in (CLICK, STROKES):
            st.session_state.pop(key, None)
        st.rerun()
    if save.button("Save outline", key="outline_click_save", disabled=outline.grown is None):
        _save(pseudonym, outline)


def outline_form(pseudonym: str, image: tuple[str, str]) -> None:
    """The point as the viewer numbers it (sagittal, coronal and axial slices, from 1, of the
    series ``image``), a tolerance slider, "Grow" and "Grow and save": for keyboard users.

    Nothing is shown when the CT cannot be read (the viewer above says why).
    """
    try:
        counts = slice_counts(image)
    except GistcadError:
        return
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
