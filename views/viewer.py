"""The CT viewer of the case view: NiiVue in the browser, with the RECIST/Choi numbers beside it.

:func:`ct_viewer` sends the series, its tumour mask and its Grad-CAM maps once (NIfTI bytes made
by :mod:`gistcad.viewer.browser`) to a Streamlit component (``views/components/ct_viewer``, the
NiiVue bundle shipped in the repository: nothing is fetched at run time). Slices, zoom, pan,
window/level, HU readout and calipers then run in the browser without a server round trip.
:func:`side_by_side` (baseline beside follow-up) still renders server-side slices, cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st
import streamlit.components.v1 as components

from gistcad.errors import GistcadError
from gistcad.viewer.browser import BrowserSeries, BrowserVolume, series_for_browser
from gistcad.viewer.slices import (
    PRESETS,
    Plane,
    ViewVolume,
    extent_mm,
    extract,
    index_at,
    largest_slice,
    measure,
    position_mm,
    read_view_volume,
    render,
    slice_count,
    window,
)
from views.common import settings

PRESET_NAMES = [p.name for p in PRESETS]
PRESET_LABELS = {"abdomen": "Soft tissue (abdomen)"}
VIEWER_HEIGHT = 640
#: the viewer component's key: its value is the last click made in its "outline" mode
VIEWER_KEY = "ct_viewer"

_browser_viewer = components.declare_component(
    "ct_viewer", path=str(Path(__file__).resolve().parent / "components" / "ct_viewer")
)


@st.cache_resource(max_entries=16, show_spinner=False)
def view_volume(relative_path: str, sha256: str) -> ViewVolume:
    """The volume at ``relative_path`` (memory-mapped), reoriented for display."""
    del sha256  # part of the cache key: a re-imported file is read again
    return read_view_volume(settings().layout, relative_path)


def slice_counts(image: tuple[str, str]) -> tuple[int, int, int]:
    """The series' (sagittal, coronal, axial) slice counts, as the viewer numbers them."""
    view = view_volume(*image)
    sagittal, coronal, axial = (
        slice_count(view, plane) for plane in (Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL)
    )
    return sagittal, coronal, axial


@st.cache_data(max_entries=1024, show_spinner=False)
def rendered(
    image: tuple[str, str],
    mask: tuple[str, str] | None,
    plane: Plane,
    index: int,
    level: float,
    width: float,
    opacity: float,
) -> np.ndarray:
    """One server-rendered slice (side by side view): windowed, with the tumour outlined."""
    grey_slice, aspect = extract(view_volume(*image), plane, index)
    mask_slice = None if mask is None else extract(view_volume(*mask), plane, index)[0]
    return render(window(grey_slice, level, width), aspect, mask=mask_slice, mask_opacity=opacity)


@st.cache_data(max_entries=4, show_spinner="Preparing the CT for the viewer…")
def browser_series(
    image: tuple[str, str], mask: tuple[str, str] | None, attention: dict[str, str]
) -> BrowserSeries:
    """The series for the browser viewer; the sha256s in the arguments key the cache."""
    return series_for_browser(
        settings().layout,
        image[0],
        None if mask is None else mask[0],
        {label: Path(path) for label, path in attention.items()},
    )


def ct_viewer(
    image: tuple[str, str],
    mask: tuple[str, str] | None,
    attention: dict[str, str] | None = None,
    outline: BrowserVolume | None = None,
    outline_key: str | None = None,
) -> None:
    """The browser viewer for one series (``(path, sha256)``), its tumour mask and Grad-CAM maps.

    Opens at the largest tumour slice; the tumour's measures are printed under it. ``outline``
    is an outline being drawn (:func:`gistcad.viewer.outline.outline_for_viewer`), shown over
    the CT in green; a new ``outline_key`` replaces it in the browser without reloading the CT.
    A click in the viewer's "outline" mode becomes the value of ``st.session_state[VIEWER_KEY]``
    (``{"mm": [x, y, z], "id": ...}``, RAS mm).
    """
    try:
        view = view_volume(*image)
        mask_view = None if mask is None else view_volume(*mask)
        series = browser_series(image, mask, dict(attention or {}))
    except GistcadError as exc:
        st.error(f"The CT cannot be shown: {exc}. Re-import the series.", icon=":material/error:")
        return
    start = [0.5, 0.5, 0.5]  # fractions along the LPS axes (sagittal, coronal, axial)
    if mask_view is not None:
        for axis, plane in enumerate((Plane.SAGITTAL, Plane.CORONAL, Plane.AXIAL)):
            start[axis] = (largest_slice(mask_view, plane) + 0.5) / slice_count(view, plane)
    cams: dict[str, Any] = {
        f"attention_{i}": v.nifti_gz for i, v in enumerate(series.attention.values())
    }
    _browser_viewer(
        image=series.ct.nifti_gz,
        mask=None if series.mask is None else series.mask.nifti_gz,
        attention_labels=list(series.attention),
        volume_key=f"{image[1]}:{None if mask is None else mask[1]}:{sorted(series.attention)}",
        presets=[
            {
                "label": PRESET_LABELS.get(p.name, p.name.capitalize()),
                "level": p.level,
                "width": p.width,
            }
            for p in PRESETS
        ],
        start=start,
        height=VIEWER_HEIGHT,
        outline=None if outline is None else outline.nifti_gz,
        outline_key=None if outline is None else outline_key,
        key=VIEWER_KEY,
        default=None,
        **cams,
    )
    if series.ct.downsampled:
        shape = " × ".join(str(n) for n in series.ct.source_shape)
        st.caption(
            f"The browser shows one voxel in {series.ct.stride} along each axis of this "
            f"{shape} series (over 256³ voxels); the measures below use the full resolution."
        )
    if mask_view is not None:
        measures = measure(view, mask_view)
        cols = st.columns(3)
        cols[0].metric("Longest axial diameter", f"{measures.longest_axial_diameter_mm:.0f} mm")
        cols[1].metric("Mean attenuation", f"{measures.mean_hu:.0f} HU")
        cols[2].metric("Tumour volume", f"{measures.volume_ml:.1f} mL")


@st.fragment
def side_by_side(
    panels: list[tuple[str, tuple[str, str], tuple[str, str] | None]], key: str
) -> None:
    """Two timepoints' CTs next to each other, axial, at one linked position in mm.

    ``panels`` are (label, image ``(path, sha256)``, mask or None); one slider sets the
    position in mm from the first slice, applied to every panel (each scan shows its slice
    nearest that position), so that baseline and follow-up stay at the same level.
    """
    try:
        views = [view_volume(*image) for _, image, _ in panels]
        masks = [None if mask is None else view_volume(*mask) for _, _, mask in panels]
    except GistcadError as exc:
        st.error(f"The CT cannot be shown: {exc}. Re-import the series.", icon=":material/error:")
        return
    position_key = f"{key}_position_mm"
    if position_key not in st.session_state:
        first_mask = next((m for m in masks if m is not None), None)
        start = largest_slice(first_mask, Plane.AXIAL) if first_mask is not None else 0
        st.session_state[position_key] = round(position_mm(views[0], Plane.AXIAL, start), 1)
    extent = max(extent_mm(v, Plane.AXIAL) for v in views)
    spacing = min(v.spacing_mm[2] for v in views)
    controls = st.columns([4, 2])
    position = controls[0].slider(
        "Linked axial position (mm from the first slice)",
        0.0,
        float(max(extent, spacing)),
        step=float(spacing),
        key=position_key,
    )
    preset_name = controls[1].selectbox("Window", PRESET_NAMES, key=f"{key}_preset")
    preset = next(p for p in PRESETS if p.name == preset_name)
    for column, (label, image, mask), view in zip(
        st.columns(len(panels)), panels, views, strict=True
    ):
        index = index_at(view, Plane.AXIAL, position)
        picture = rendered(
            image, mask, Plane.AXIAL, index, float(preset.level), float(preset.width), 0.35
        )
        total = slice_count(view, Plane.AXIAL)
        column.image(picture, caption=f"{label}: axial slice {index + 1} of {total}", width=480)
