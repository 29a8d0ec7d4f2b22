"""The case view's "Outline tumour" form: one click (slice, row, column) grows the outline."""

from __future__ import annotations

import streamlit as st

from gistcad.domain import SEGMENTATION_SOURCE_LABELS, SegmentationSource
from gistcad.errors import GistcadError
from gistcad.segmentation import GrowOptions
from gistcad.segmentation.outline import outline_patient
from gistcad.store import session_scope
from views.common import engine, scope, settings, show_error


def outline_form(pseudonym: str, shape: list[int]) -> None:
    """Seed slice / row / column, a tolerance slider, "Grow" and "Grow and save"."""
    columns, rows, slices = (int(v) for v in shape)
    label = SEGMENTATION_SOURCE_LABELS[SegmentationSource.SEMI_AUTOMATIC]
    with st.expander(f"Outline tumour — {label}"), st.form(key="outline_form"):
        st.caption(
            "Give a point inside the tumour (near its centre) as the viewer shows it; the "
            "outline grows in 3-D from there."
        )
        left, middle, right = st.columns(3)
        k = left.number_input("Slice", 0, slices - 1, slices // 2, key="outline_slice")
        j = middle.number_input("Row", 0, rows - 1, rows // 2, key="outline_row")
        i = right.number_input("Column", 0, columns - 1, columns // 2, key="outline_column")
        tolerance = st.slider(
            "Tolerance (HU)",
            10,
            200,
            int(GrowOptions().tolerance_hu),
            step=5,
            key="outline_tolerance",
            help="Half-width of the intensity range around the click. Lower it if the outline "
            "runs into neighbouring organs.",
        )
        grow = st.form_submit_button("Grow")
        save = st.form_submit_button("Grow and save")
    if not (grow or save):
        return
    try:
        with session_scope(engine()) as session:
            result = outline_patient(
                session,
                scope(),
                settings().layout,
                pseudonym,
                (float(i), float(j), float(k)),
                tolerance_hu=float(tolerance),
                save=save,
            )
    except GistcadError as exc:
        show_error(exc)
        return
    st.success(
        f"Outline of {result.volume_ml:.1f} ml, longest axial diameter "
        f"{result.longest_axial_diameter_mm:.1f} mm, mean {result.mean_hu:.0f} HU"
        + (" — saved." if result.saved else " — not saved.")
    )
