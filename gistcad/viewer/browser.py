"""What the browser's CT viewer is fed: a series, its masks and attention maps as NIfTI bytes.

The case view's viewer runs in the browser (NiiVue, see ``views/components/ct_viewer/``):
scrolling, zoom, pan, window/level, HU readout and calipers need no server round trip. The
server only sends the volumes once, as gzip-compressed NIfTI-1 files in memory:

- the CT in Hounsfield units as int16 (values clipped to -1024..3071, the CT range), with its
  own affine, so that the browser shows true orientation labels, millimetres and HU;
- each tumour mask as uint8 on the CT's grid;
- each Grad-CAM map resampled onto the CT's grid, as float32 in 0..1.

A series larger than :data:`MAX_VOXELS` (256³ ≈ 16.8 million voxels; a 512 × 512 × 300 CT has
79 million) is down-sampled by one whole stride on every axis, the smallest that brings it
under the limit (stride 2 for 512 × 512 × 300), and its affine scaled to match, so that the
browser's memory and the transfer stay small; the masks and maps are down-sampled alike so
that they stay on the CT's grid. The measurements printed beside the viewer and the report's
key slice come from the full-resolution volume (:mod:`gistcad.viewer.slices`).
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from numpy.typing import NDArray

from gistcad.errors import ValidationError
from gistcad.imaging import read_nifti
from gistcad.imaging.volume import Volume
from gistcad.layout import DataLayout
from gistcad.neural.attention_maps import attention_on_image

#: the largest series sent at full resolution (voxels); larger ones are down-sampled
MAX_VOXELS = 256**3
#: the CT range kept in the browser's copy (HU)
HU_RANGE = (-1024, 3071)


@dataclass(frozen=True)
class BrowserVolume:
    """One volume for the browser: gzip-compressed NIfTI-1 bytes and how it was made.

    Attributes
    ----------
    nifti_gz
        The ``.nii.gz`` file's bytes.
    shape
        The voxel grid sent, ``(I, J, K)``.
    source_shape
        The stored series' grid.
    stride
        The down-sampling stride on every axis (1: full resolution).
    """

    nifti_gz: bytes
    shape: tuple[int, int, int]
    source_shape: tuple[int, int, int]
    stride: int

    @property
    def downsampled(self) -> bool:
        """Whether the browser gets fewer voxels than the stored series."""
        return self.stride > 1


def stride_for(shape: tuple[int, ...], max_voxels: int = MAX_VOXELS) -> int:
    """The smallest whole stride on every axis that brings ``shape`` to ``max_voxels`` or less.

    >>> stride_for((512, 512, 300))
    2
    >>> stride_for((96, 96, 60))
    1
    """
    if max_voxels < 1:
        raise ValidationError(f"max_voxels must be at least 1, got {max_voxels}")
    total = math.prod(shape)
    stride = max(1, math.ceil((total / max_voxels) ** (1 / 3)))
    while math.prod(math.ceil(n / stride) for n in shape) > max_voxels:
        stride += 1
    return stride


def _encode(
    array: NDArray[np.generic], affine: NDArray[np.float64], source: tuple[int, int, int], k: int
) -> BrowserVolume:
    """``array`` (already taken every ``k``-th voxel of a ``source`` grid) as ``.nii.gz``."""
    scaled = affine @ np.diag([k, k, k, 1.0])  # voxel n of the copy is voxel n·k of the source
    image = nib.Nifti1Image(np.ascontiguousarray(array), scaled)
    image.header.set_xyzt_units("mm")
    image.header.set_qform(scaled, code=1)
    image.header.set_sform(scaled, code=1)
    shape = (int(array.shape[0]), int(array.shape[1]), int(array.shape[2]))
    # mtime 0: the same volume gives the same bytes
    packed = gzip.compress(image.to_bytes(), compresslevel=1, mtime=0)
    return BrowserVolume(packed, shape, source, k)


def ct_for_browser(ct: Volume, max_voxels: int = MAX_VOXELS) -> BrowserVolume:
    """The CT ``ct`` as int16 HU NIfTI bytes, down-sampled when over ``max_voxels``."""
    k = stride_for(ct.shape, max_voxels)
    hu = np.asarray(ct.array)[::k, ::k, ::k]
    hu16 = np.clip(np.rint(hu), *HU_RANGE).astype(np.int16)
    return _encode(hu16, ct.affine, ct.shape, k)


def mask_for_browser(mask: Volume, ct: Volume, max_voxels: int = MAX_VOXELS) -> BrowserVolume:
    """A tumour mask on ``ct``'s grid as uint8 NIfTI bytes, down-sampled like the CT."""
    if mask.shape != ct.shape:
        raise ValidationError(
            f"the mask's grid {mask.shape} differs from the CT's {ct.shape}: re-import the series"
        )
    k = stride_for(ct.shape, max_voxels)
    inside = np.asarray(mask.array)[::k, ::k, ::k] > 0
    return _encode(inside.astype(np.uint8), ct.affine, ct.shape, k)


def attention_for_browser(
    cam_path: Path, ct: Volume, max_voxels: int = MAX_VOXELS
) -> BrowserVolume:
    """A Grad-CAM map resampled onto ``ct``'s grid, float32 in 0..1, down-sampled like the CT."""
    cam = attention_on_image(cam_path, ct)
    k = stride_for(ct.shape, max_voxels)
    values = np.clip(np.asarray(cam.array, dtype=np.float32)[::k, ::k, ::k], 0.0, 1.0)
    return _encode(values, ct.affine, ct.shape, k)


@dataclass(frozen=True)
class BrowserSeries:
    """A series with its first tumour mask and its attention maps (by label), for the browser."""

    ct: BrowserVolume
    mask: BrowserVolume | None
    attention: dict[str, BrowserVolume]


def series_for_browser(
    layout: DataLayout,
    volume_path: str,
    mask_path: str | None = None,
    attention: dict[str, Path] | None = None,
    max_voxels: int = MAX_VOXELS,
) -> BrowserSeries:
    """The stored series at ``volume_path`` (as the store records it) ready for the browser.

    Parameters
    ----------
    layout
        The data folder.
    volume_path, mask_path
        The canonical volume's and the tumour mask's paths as the store records them
        (relative to the data folder).
    attention
        Grad-CAM maps by the label the viewer shows (``available_attention_maps``).
    max_voxels
        Larger series are down-sampled (see the module's notes).

    Raises
    ------
    ValidationError
        If a file is missing or unreadable, or the mask is not on the CT's grid.
    """
    ct = read_nifti(layout.resolve(volume_path))
    mask = None
    if mask_path is not None:
        mask = mask_for_browser(read_nifti(layout.resolve(mask_path)), ct, max_voxels)
    maps = {
        label: attention_for_browser(path, ct, max_voxels)
        for label, path in (attention or {}).items()
    }
    return BrowserSeries(ct_for_browser(ct, max_voxels), mask, maps)
