"""The CT viewer of the case view: three planes, windows, tumour overlay, RECIST/Choi numbers.

Volumes are memory-mapped and kept as a cached resource, rendered slices are cached, and the
viewer reruns alone (``st.fragment``) so that stepping through slices does not redraw the page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from gistcad.errors import GistcadError
from gistcad.imaging import read_nifti
from gistcad.neural.attention_maps import attention_on_image
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
    render,
    slice_count,
    to_lps,
    window,
)
from views.common import settings

PRESET_NAMES = [p.name for p in PRESETS]


@st.cache_resource(max_entries=16, show_spinner=False)
def view_volume(relative_path: str, sha256: str) -> ViewVolume:
    """The volume at ``relative_path`` (memory-mapped), reoriented for display."""
    del sha256  # part of the cache key: a re-imported file is read again
    return to_lps(read_nifti(settings().layout.resolve(relative_path)))


@st.cache_resource(max_entries=8, show_spinner="Placing the attention map on the CT…")
def attention_volume(cam_path: str, image: tuple[str, str]) -> ViewVolume:
    """A Grad-CAM map (stored in crop space) resampled onto the CT's grid, for display."""
    ct = read_nifti(settings().layout.resolve(image[0]))
    return to_lps(attention_on_image(Path(cam_path), ct))


@st.cache_data(max_entries=1024, show_spinner=False)
def rendered(
    image: tuple[str, str],
    mask: tuple[str, str] | None,
    plane: Plane,
    index: int,
    level: float,
    width: float,
    opacity: float,
    cam_path: str | None = None,
) -> np.ndarray:
    grey_slice, aspect = extract(view_volume(*image), plane, index)
    mask_slice = None if mask is None else extract(view_volume(*mask), plane, index)[0]
    heat = None
    if cam_path is not None:
        cam = extract(attention_volume(cam_path, image), plane, index)[0]
        heat = np.asarray(cam, dtype=np.float32)  # what render makes of it anyway
    return render(
        window(grey_slice, level, width), aspect, mask=mask_slice, mask_opacity=opacity, heat=heat
    )


def _apply_preset() -> None:
    preset = next(p for p in PRESETS if p.name == st.session_state["viewer_preset"])
    st.session_state["viewer_level"] = float(preset.level)
    st.session_state["viewer_width"] = float(preset.width)


def _step(key: str, delta: int, last: int) -> None:
    st.session_state[key] = int(min(max(st.session_state[key] + delta, 0), last))


def _jump(key: str, index: int) -> None:
    st.session_state[key] = index


@st.fragment
def ct_viewer(
    image: tuple[str, str],
    mask: tuple[str, str] | None,
    attention: dict[str, str] | None = None,
) -> None:
    """Render the viewer for one series (``(path, sha256)``) and its tumour mask."""
    try:
        view = view_volume(*image)
        if mask is not None:
            view_volume(*mask)
    except GistcadError as exc:
        st.error(f"The CT cannot be shown: {exc}. Re-import the series.", icon=":material/error:")
        return
    controls = st.columns([2, 2, 1, 1, 2])
    plane = (
        controls[0].radio(
            "Plane", list(Plane), horizontal=True, key="viewer_plane", format_func=str.capitalize
        )
        or Plane.AXIAL
    )  # a radio with options and no index=None always has a choice
    controls[1].selectbox("Window", PRESET_NAMES, key="viewer_preset", on_change=_apply_preset)
    if "viewer_level" not in st.session_state:
        _apply_preset()
    level = controls[2].number_input("Level", -1500.0, 3000.0, step=10.0, key="viewer_level")
    width = controls[3].number_input("Width", 1.0, 4000.0, step=10.0, key="viewer_width")
    opacity = controls[4].slider("Mask opacity", 0.0, 1.0, 0.35, 0.05, key="viewer_opacity")
    last = slice_count(view, plane) - 1
    key = f"viewer_index_{plane.value}"
    if key not in st.session_state:
        st.session_state[key] = largest_slice(view_volume(*mask), plane) if mask else last // 2
    step = st.columns([1, 1, 6, 2])
    step[0].button("◀", key=f"viewer_prev_{plane.value}", on_click=_step, args=(key, -1, last))
    step[1].button("▶", key=f"viewer_next_{plane.value}", on_click=_step, args=(key, 1, last))
    step[2].slider("Slice", 0, last, key=key, label_visibility="collapsed")
    if mask is not None:
        step[3].button(
            "Largest tumour slice",
            key=f"viewer_jump_{plane.value}",
            on_click=_jump,
            args=(key, largest_slice(view_volume(*mask), plane)),
        )
    cam_path = None
    if attention:
        choice = st.selectbox(
            "Grad-CAM overlay",
            ["none", *attention],
            key="viewer_cam",
            help="where the deep model looked for its predicted class",
        )
        cam_path = attention.get(choice)
    picture = rendered(
        image, mask, plane, int(st.session_state[key]), level, width, opacity, cam_path
    )
    caption = f"{plane.value} slice {st.session_state[key] + 1} of {last + 1}"
    st.image(picture, caption=caption, width=560)
    if mask is not None:
        measures = measure(view, view_volume(*mask))
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
