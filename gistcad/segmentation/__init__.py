"""Semi-automatic tumour outlines: grow a 3-D mask from one click, correct it slice by slice.

:func:`grow_from_seed` (region growing) and :func:`add_stroke` / :func:`erase_stroke` (per-slice
corrections) are pure functions on :class:`~gistcad.imaging.volume.Volume` s and arrays; saving
an outline is :func:`gistcad.segmentation.outline.save_outline`.
"""

from gistcad.segmentation.region_growing import (
    GrowOptions,
    SegmentationError,
    grow_from_seed,
    seed_index,
)
from gistcad.segmentation.strokes import add_stroke, erase_stroke

__all__ = [
    "GrowOptions",
    "SegmentationError",
    "add_stroke",
    "erase_stroke",
    "grow_from_seed",
    "seed_index",
]
