"""Decoding a checked series into one preallocated array, and rescaling it to Hounsfield units.

Uncompressed little-endian slices are read straight from the Pixel Data offset found while
scanning (no second header parse, no intermediate copy). When the header alone proves that
the result fits int16 (:func:`int16_intercept`: 16-bit storage, slope 1, one integer intercept,
BitsStored small enough), each slice is masked and shifted to Hounsfield units in place right
after it is read, while it is still in the CPU cache, so the volume is never copied or scanned
again. Compressed slices (RLE, JPEG lossless, JPEG-LS, JPEG 2000) are decoded by pydicom's
pixel handlers, which use the pylibjpeg / pylibjpeg-openjpeg / pylibjpeg-libjpeg / pyjpegls
plugins; a missing plugin is reported with the package to install.

Output type (:func:`rescale`):

- ``int16`` when every slice has RescaleSlope 1 and an integer RescaleIntercept and the
  rescaled values fit in −32768…32767 (almost every CT: HU −1024…3071);
- ``float32`` otherwise (HU = stored × slope + intercept, per slice).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pydicom import dcmread
from pydicom.pixels import iter_pixels

from gistcad.imaging.dicom_header import TAG_PIXEL_DATA
from gistcad.imaging.errors import ImagingError
from gistcad.imaging.volume import Volume
from gistcad.problems import Problem

if TYPE_CHECKING:
    from gistcad.imaging.dicom_series import DicomSeries

logger = logging.getLogger(__name__)

_INT16 = np.iinfo(np.int16)
_Items = list[tuple[int, int, int]]  # (slice k, frame index, value offset) of one file


def stored_dtype(bits_allocated: int, pixel_representation: int) -> np.dtype[np.integer]:
    """The little-endian dtype of stored pixel values, e.g. ``<u2`` for 16 bits unsigned."""
    kind = "i" if pixel_representation == 1 else "u"
    return np.dtype(f"<{kind}{bits_allocated // 8}")


def fix_unused_bits(
    stored: npt.NDArray[np.integer], bits_stored: int, pixel_representation: int
) -> None:
    """In place: mask the high bits above BitsStored (unsigned) or sign-extend them (signed)."""
    bits = stored.dtype.itemsize * 8
    if bits_stored >= bits:
        return
    if pixel_representation == 0:
        stored &= stored.dtype.type((1 << bits_stored) - 1)
        return
    shift = stored.dtype.type(bits - bits_stored)
    np.left_shift(stored, shift, out=stored)
    np.right_shift(stored, shift, out=stored)


def rescale(
    stored: npt.NDArray[np.integer], slopes: npt.ArrayLike, intercepts: npt.ArrayLike
) -> npt.NDArray[np.int16] | npt.NDArray[np.float32]:
    """Apply RescaleSlope/Intercept per slice: HU = stored × slope + intercept.

    Parameters
    ----------
    stored
        Stored values, shape (K, rows, columns).
    slopes, intercepts
        One per slice, shape (K,).

    Returns
    -------
    ndarray
        Same shape; ``int16`` if all slopes are 1, the intercepts integers and the result fits,
        else ``float32``. ``stored`` itself is returned when it is already int16 with
        intercept 0.
    """
    slopes = np.asarray(slopes, dtype=np.float64)
    intercepts = np.asarray(intercepts, dtype=np.float64)
    integral = bool(np.all(slopes == 1.0) and np.all(intercepts == np.round(intercepts)))
    if integral and np.all(intercepts == intercepts[0]):
        intercept = int(intercepts[0])
        low, high = int(stored.min()) + intercept, int(stored.max()) + intercept
        if _INT16.min <= low and high <= _INT16.max:
            if stored.dtype == np.int16 and intercept == 0:
                return stored  # type: ignore[return-value]
            out = np.empty(stored.shape, dtype=np.int16)
            np.add(stored, np.int32(intercept), out=out, casting="unsafe")
            return out
    out32 = stored.astype(np.float32)
    if np.all(slopes == slopes[0]) and np.all(intercepts == intercepts[0]):
        out32 *= np.float32(slopes[0])
        out32 += np.float32(intercepts[0])
    else:
        out32 *= slopes.astype(np.float32)[:, None, None]
        out32 += intercepts.astype(np.float32)[:, None, None]
    return out32


def int16_intercept(series: DicomSeries) -> int | None:
    """The intercept that turns stored values into int16 HU in place, if the header proves it.

    That is when the storage is 16-bit, every slice has RescaleSlope 1 and the same integer
    RescaleIntercept, and every value BitsStored allows (after masking or sign extension),
    plus the intercept, fits int16 — e.g. 12-bit unsigned with intercept −1024. Adding it to
    the stored values viewed as int16 (wrapping modulo 2¹⁶) then gives exactly the int16 HU
    :func:`rescale` would. ``None`` otherwise: :func:`rescale` decides from the values.
    """
    bits = min(series.bits_stored, 16)
    slopes = {s.rescale_slope for s in series.slices}
    intercepts = {s.rescale_intercept for s in series.slices}
    if series.bits_allocated != 16 or bits < 1 or slopes != {1.0} or len(intercepts) != 1:
        return None
    intercept = intercepts.pop()
    if not intercept.is_integer():  # also NaN and ±inf
        return None
    if series.pixel_representation == 1:
        low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        low, high = 0, (1 << bits) - 1
    fits = _INT16.min <= low + intercept and high + intercept <= _INT16.max
    return int(intercept) if fits else None


def _finish_frame(
    frame: np.ndarray, bits_stored: int, pixel_representation: int, intercept: int | None
) -> None:
    """In place, on a freshly read frame: fix the unused bits, then add the int16 intercept."""
    fix_unused_bits(frame, bits_stored, pixel_representation)
    if intercept:
        hu = frame.view(np.int16)
        np.add(hu, np.int16(intercept), out=hu)


def _read_native(
    path: Path, items: _Items, buffer: np.ndarray, finish: Callable[[np.ndarray], None]
) -> None:
    """Read a file's frames in place into ``buffer[k]``, then ``finish`` each."""
    frame_bytes = buffer[0].nbytes
    with open(path, "rb") as fp:
        for k, frame, offset in items:
            fp.seek(offset + frame * frame_bytes)
            view = memoryview(buffer[k]).cast("B")
            if fp.readinto(view) != frame_bytes:
                raise ImagingError(
                    f"{path}: the file ended inside the pixel data of frame {frame}; it was "
                    "truncated after scanning. Copy it again.",
                    [Problem(str(path), "truncated pixel data", tag=TAG_PIXEL_DATA)],
                )
            finish(buffer[k])


def _decode(path: Path, items: _Items, buffer: np.ndarray) -> None:
    """Decode (compressed) frames with pydicom's handlers into the buffer."""
    try:
        dataset = dcmread(path)
        frames = {frame: k for k, frame, _ in items}
        for frame, array in zip(
            sorted(frames), iter_pixels(dataset, indices=sorted(frames)), strict=True
        ):
            buffer[frames[frame]] = array.reshape(buffer.shape[1:])
    except (RuntimeError, NotImplementedError, ValueError) as exc:
        syntax = dcmread(path, stop_before_pixels=True).file_meta.get("TransferSyntaxUID")
        name = getattr(syntax, "name", syntax)
        raise ImagingError(
            f"{path}: cannot decode pixel data in transfer syntax {name} ({exc}). Install the "
            "decoders (pip install pylibjpeg pylibjpeg-openjpeg pylibjpeg-libjpeg pyjpegls), "
            "or re-export the series uncompressed.",
            [Problem(str(path), f"cannot decode {name}", tag="TransferSyntaxUID (0002,0010)")],
        ) from exc


def load_series(series: DicomSeries) -> Volume:
    """Read a checked series' pixels into a :class:`Volume` in Hounsfield units.

    The returned array has shape (columns, rows, slices) and is a Fortran-ordered view of one
    (slices, rows, columns) buffer, so a NIfTI writer can dump it in one contiguous write.
    See the module docstring for the output dtype rule.

    Raises
    ------
    ImagingError
        If a file changed since the scan (truncated) or a compressed slice cannot be decoded.
    """
    dtype = stored_dtype(series.bits_allocated, series.pixel_representation)
    buffer = np.empty((len(series.slices), series.rows, series.columns), dtype=dtype)
    native: dict[Path, _Items] = defaultdict(list)
    encoded: dict[Path, _Items] = defaultdict(list)
    for k, ref in enumerate(series.slices):
        if ref.value_offset is not None:
            native[ref.path].append((k, ref.frame, ref.value_offset))
        else:
            encoded[ref.path].append((k, ref.frame, 0))
    intercept = int16_intercept(series) if not encoded else None
    # pydicom masks/sign-extends the frames it decodes; the raw reads need it here.
    finish = partial(
        _finish_frame,
        bits_stored=series.bits_stored,
        pixel_representation=series.pixel_representation,
        intercept=intercept,
    )
    for path, items in native.items():
        _read_native(path, items, buffer, finish)
    for path, items in encoded.items():
        _decode(path, items, buffer)
    if intercept is not None:
        hu: npt.NDArray[np.int16] | npt.NDArray[np.float32] = buffer.view(np.int16)
    else:
        hu = rescale(
            buffer,
            [s.rescale_slope for s in series.slices],
            [s.rescale_intercept for s in series.slices],
        )
    logger.debug("loaded series %s: %s %s", series.series_instance_uid, hu.shape, hu.dtype)
    return Volume(hu.transpose(2, 1, 0), series.affine)
