"""CT slices for the screen: orientation, windowing, overlays, and the numbers of RECIST/Choi.

A :class:`~gistcad.imaging.volume.Volume` is first reoriented (flips and transposes only, so a
memory-mapped array stays a view) to LPS order: axis 0 towards the patient's Left, axis 1
Posterior, axis 2 Superior. Slices are then shown in the radiological convention: axial with
the patient's right on the image's left and anterior at the top; coronal and sagittal with
superior at the top (sagittal: anterior on the left). Pixels are stretched to their physical
aspect so that a 5 mm slice is not squashed.

References
----------
.. [RECIST] Eisenhauer EA et al. New response evaluation criteria in solid tumours: revised
   RECIST guideline (version 1.1). Eur J Cancer 2009;45:228-247 (longest axial diameter).
.. [Choi] Choi H et al. J Clin Oncol 2007;25:1753-1759 (tumour attenuation in HU).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import nibabel.orientations as nio
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import zoom

from gistcad.errors import ValidationError
from gistcad.imaging import read_nifti
from gistcad.imaging.lesion_measures import LesionMeasures, measure_lesion
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout


class Plane(StrEnum):
    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


@dataclass(frozen=True)
class WindowPreset:
    name: str
    level: float  # HU
    width: float  # HU


PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("abdomen", 50, 400),
    WindowPreset("liver", 60, 150),
    WindowPreset("bone", 400, 1800),
    WindowPreset("lung", -600, 1500),
)
MASK_COLOUR = np.array([230, 60, 40], dtype=np.float32)


@dataclass(frozen=True)
class ViewVolume:
    """A volume in LPS order with its voxel spacing (mm), ready for slicing."""

    array: NDArray[np.generic]
    spacing_mm: tuple[float, float, float]


def to_lps(volume: Volume) -> ViewVolume:
    """Reorient ``volume`` to LPS array order without copying the voxels."""
    current = nio.io_orientation(volume.affine)
    target = nio.axcodes2ornt(("L", "P", "S"), labels=(("L", "R"), ("P", "A"), ("I", "S")))
    transform = nio.ornt_transform(current, target)
    array = nio.apply_orientation(np.asarray(volume.array), transform)
    order = transform[:, 0].astype(int)
    spacing = tuple(float(s) for s in np.asarray(volume.spacing_mm)[np.argsort(order)])
    return ViewVolume(array=array, spacing_mm=spacing)  # type: ignore[arg-type]


def read_view_volume(layout: DataLayout, relative_path: str) -> ViewVolume:
    """The canonical NIfTI volume at ``relative_path`` in the data folder (memory-mapped where
    uncompressed), reoriented for display by :func:`to_lps`."""
    return to_lps(read_nifti(layout.resolve(relative_path)))


def slice_count(view: ViewVolume, plane: Plane) -> int:
    return int(view.array.shape[{Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]])


def extract(view: ViewVolume, plane: Plane, index: int) -> tuple[NDArray[np.generic], float]:
    """The 2-D slice in display orientation and its row/column pixel aspect (height / width)."""
    n = slice_count(view, plane)
    if not 0 <= index < n:
        raise ValidationError(f"{plane.value} slice {index} is outside 0..{n - 1}")
    a, (sx, sy, sz) = view.array, view.spacing_mm
    if plane is Plane.AXIAL:
        return a[:, :, index].T, sy / sx
    if plane is Plane.CORONAL:
        return a[:, index, :].T[::-1], sz / sx
    return a[index, :, :].T[::-1], sz / sy


def window(values: NDArray[np.generic], level: float, width: float) -> NDArray[np.uint8]:
    """Map HU to grey levels: level ± width/2 onto 0..255."""
    if width <= 0:
        raise ValidationError("the window width must be positive")
    low = level - width / 2
    scaled = (np.asarray(values, dtype=np.float32) - low) * (255.0 / width)
    return np.clip(scaled, 0, 255).astype(np.uint8)


def render(
    grey: NDArray[np.uint8],
    aspect: float,
    *,
    mask: NDArray[np.generic] | None = None,
    mask_opacity: float = 0.35,
    heat: NDArray[np.floating] | None = None,
    heat_opacity: float = 0.4,
) -> NDArray[np.uint8]:
    """RGB image: grey slice, tumour fill plus outline, and a heat map (Grad-CAM) on top."""
    rgb = np.repeat(grey[:, :, None].astype(np.float32), 3, axis=2)
    if heat is not None:
        h = np.clip(np.asarray(heat, dtype=np.float32), 0, 1)[:, :, None]
        colour = np.concatenate([h, np.zeros_like(h), 1 - h], axis=2) * 255  # blue → red
        rgb = (rgb * (1 - heat_opacity * h) + colour * heat_opacity * h).astype(np.float32)
    if mask is not None:
        inside = np.asarray(mask) > 0
        rgb[inside] = rgb[inside] * (1 - mask_opacity) + MASK_COLOUR * mask_opacity
        edge = inside & ~_eroded(inside)
        rgb[edge] = MASK_COLOUR
    out = rgb.astype(np.uint8)
    if abs(aspect - 1) > 0.02:
        out = zoom(out, (aspect, 1, 1), order=0)
    return out


def _eroded(inside: NDArray[np.bool_]) -> NDArray[np.bool_]:
    core = inside.copy()
    core[1:] &= inside[:-1]
    core[:-1] &= inside[1:]
    core[:, 1:] &= inside[:, :-1]
    core[:, :-1] &= inside[:, 1:]
    return core


def largest_slice(mask: ViewVolume, plane: Plane) -> int:
    """Index of the slice with the largest tumour area (0 when the mask is empty)."""
    axis = {Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]
    other = tuple(a for a in range(3) if a != axis)
    area = (np.asarray(mask.array) > 0).sum(axis=other)
    return int(np.argmax(area)) if area.any() else 0


def measure(image: ViewVolume, mask: ViewVolume) -> LesionMeasures:
    """Longest axial diameter, short axis, mean HU and volume of the tumour in ``mask``.

    The one measurement of gistcad (:func:`gistcad.imaging.lesion_measures.measure_lesion`), on
    the LPS views the screen shows: what the viewer prints is what response assessment uses.
    """
    return measure_lesion(image.array, mask.array, mask.spacing_mm)


def _axis_spacing(view: ViewVolume, plane: Plane) -> float:
    return float(view.spacing_mm[{Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]])


def extent_mm(view: ViewVolume, plane: Plane) -> float:
    """Distance in mm from the first to the last slice of ``plane``."""
    return (slice_count(view, plane) - 1) * _axis_spacing(view, plane)


def position_mm(view: ViewVolume, plane: Plane, index: int) -> float:
    """Where slice ``index`` lies, in mm from the first slice of ``plane``."""
    return index * _axis_spacing(view, plane)


def index_at(view: ViewVolume, plane: Plane, position: float) -> int:
    """The slice nearest ``position`` mm from the first slice, within the volume.

    Links two scans of different slice spacing or length (baseline and follow-up): one
    position in mm picks the matching slice of each, the last one where a scan is shorter.
    """
    index = round(position / _axis_spacing(view, plane))
    return int(min(max(index, 0), slice_count(view, plane) - 1))
