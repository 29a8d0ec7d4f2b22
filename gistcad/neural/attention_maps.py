"""Grad-CAM maps on disk: the one module that writes and reads their file format.

A map is kept in the space of the crop the network saw (``.npz`` with ``cam`` as float16, the
crop's ``affine``, ``spacing_mm`` and ``extent_mm``), one file per model version and patient
(:meth:`gistcad.layout.DataLayout.attention_map`). :func:`attention_on_image` places it on
the CT's own grid for display.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gistcad.errors import ValidationError
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.neural.crop import Crop, to_image_grid


def write_attention_map(path: Path, cam: npt.ArrayLike, crop: Crop) -> None:
    """Write a crop-space map with the crop's geometry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        cam=np.asarray(cam).astype(np.float16),
        affine=crop.affine,
        spacing_mm=crop.spacing_mm,
        extent_mm=crop.tumour_extent_mm,
    )


def read_attention_map(path: Path) -> tuple[npt.NDArray[np.float32], Crop]:
    """The map (float32) and the geometry of its crop (the crop's pixels are not kept)."""
    try:
        with np.load(path) as stored:
            cam = np.asarray(stored["cam"], dtype=np.float32)
            crop = Crop(
                array=np.zeros((2, *cam.shape), np.float32),
                affine=stored["affine"],
                spacing_mm=float(stored["spacing_mm"]),
                tumour_extent_mm=stored["extent_mm"],
            )
    except (OSError, KeyError, ValueError) as exc:
        raise ValidationError(
            f"the attention map {path} cannot be read ({exc}); predict the patient again"
        ) from None
    return cam, crop


def attention_on_image(path: Path, image: Volume) -> Volume:
    """The map of ``path`` resampled onto ``image``'s grid (0 outside the crop)."""
    cam, crop = read_attention_map(path)
    return Volume(to_image_grid(cam, crop, image), image.affine)


def available_attention_maps(
    layout: DataLayout, pseudonym: str, model_version_ids: Iterable[int]
) -> dict[int, Path]:
    """The maps kept for ``pseudonym``, by model version, among ``model_version_ids``."""
    found = {}
    for version_id in model_version_ids:
        path = layout.attention_map(int(version_id), pseudonym)
        if path.is_file():
            found[int(version_id)] = path
    return found
