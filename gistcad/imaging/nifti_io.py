"""NIfTI at the edges: the canonical volume file, reading images and masks, checksums.

The canonical volume (DESIGN.md, "Storage") is an uncompressed NIfTI-1 ``.nii`` file, so it can
be memory-mapped: a 352-byte header (348 + the 4-byte empty extension flag), then the voxels in
Fortran (i fastest) order, little-endian, written in one contiguous write while the sha256 of
the same bytes is computed on another thread (the file is never read back). It is
deterministic — the same :class:`Volume` gives the same bytes, hence the same sha256 — and it
carries no text: ``descrip``, ``aux_file``, ``db_name`` and ``intent_name`` stay empty, so no
identifying header value can reach it. qform and sform both hold the affine (code 1, scanner
coordinates); units are mm.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from gistcad.errors import ValidationError
from gistcad.imaging.volume import GRID_ATOL_MM, Volume, require_same_grid

logger = logging.getLogger(__name__)

#: Byte offset of the voxels in a canonical file.
CANONICAL_VOX_OFFSET = 352
_CHUNK = 1 << 20
_CANONICAL_DTYPES = frozenset({"uint8", "int16", "uint16", "int32", "float32", "float64"})


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (constant memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while chunk := fp.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_hex(*parts: bytes | memoryview) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def canonical_header(volume: Volume) -> nib.Nifti1Header:
    """The NIfTI-1 header of the canonical file of ``volume`` (no text fields)."""
    header = nib.Nifti1Header()
    header.set_data_dtype(volume.array.dtype.newbyteorder("<"))
    header.set_data_shape(volume.shape)
    header.set_qform(volume.affine, code=1)
    header.set_sform(volume.affine, code=1)
    header.set_xyzt_units(xyz="mm")
    header.set_slope_inter(1.0, 0.0)
    header["vox_offset"] = CANONICAL_VOX_OFFSET
    for field in ("descrip", "aux_file", "db_name", "intent_name"):
        header[field] = b""
    return header


def write_canonical(volume: Volume, path: str | os.PathLike[str]) -> str:
    """Write ``volume`` as the canonical uncompressed ``.nii`` and return its sha256.

    The file is written to a temporary name beside ``path`` and renamed, so a reader never
    sees half a file. Dtypes kept: uint8, int16, uint16, int32, float32, float64.

    Raises
    ------
    ValidationError
        If ``path`` does not end in ``.nii`` or the dtype is not one of the above.
    """
    target = Path(path)
    if target.suffix != ".nii":
        raise ValidationError(
            f"{target}: the canonical volume must be an uncompressed '.nii' file (memory-"
            "mappable); choose a name ending in .nii"
        )
    if volume.array.dtype.name not in _CANONICAL_DTYPES:
        raise ValidationError(
            f"{target}: dtype {volume.array.dtype} is not a canonical voxel type; convert to "
            f"one of {sorted(_CANONICAL_DTYPES)} first (Volume.astype)"
        )
    head, payload = _canonical_parts(volume)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=target.name + ".", suffix=".part", dir=target.parent
    )
    # hashlib and file writes release the GIL: hash on a second thread while writing.
    with ThreadPoolExecutor(1, thread_name_prefix="gistcad-sha256") as pool:
        digest = pool.submit(_sha256_hex, head, payload)
        try:
            with os.fdopen(handle, "wb") as fp:
                fp.write(head)
                fp.write(payload)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        sha256 = digest.result()
    logger.debug("wrote %s (%s, %s)", target, volume.shape, volume.array.dtype)
    return sha256


def _canonical_parts(volume: Volume) -> tuple[bytes, memoryview]:
    """The canonical file's header block (padded to the voxel offset) and its voxel bytes."""
    header = canonical_header(volume)
    # (i, j, k) in Fortran order is (k, j, i) in C order: one contiguous buffer.
    data = np.ascontiguousarray(volume.array.T, dtype=volume.array.dtype.newbyteorder("<"))
    head = header.binaryblock + b"\x00" * (CANONICAL_VOX_OFFSET - len(header.binaryblock))
    return head, data.data.cast("B")


def canonical_sha256(volume: Volume) -> str:
    """The sha256 :func:`write_canonical` would return for ``volume``, without writing."""
    return _sha256_hex(*_canonical_parts(volume))


def read_nifti(path: str | os.PathLike[str], *, mmap: bool = True) -> Volume:
    """Read a NIfTI-1/2 file (``.nii`` or ``.nii.gz``) into a :class:`Volume`.

    An uncompressed file without scaling is memory-mapped read-only (``mmap=True``); a file
    with scl_slope/scl_inter is scaled to float32. A 4-D file with one volume is accepted.

    Raises
    ------
    ValidationError
        If the file is missing, not NIfTI, not 3-D, or its affine is unusable.
    """
    source = Path(path)
    try:
        image = nib.load(source, mmap="r" if mmap else False)
    except FileNotFoundError:
        raise ValidationError(f"{source}: no such file; check the path") from None
    except Exception as exc:  # nibabel raises many types for damaged or foreign files
        raise ValidationError(
            f"{source}: not a readable NIfTI file ({type(exc).__name__}: {exc}); export the "
            "image as NIfTI (.nii or .nii.gz)"
        ) from exc
    if not isinstance(image, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ValidationError(f"{source}: {type(image).__name__} is not NIfTI; export as .nii")
    shape = image.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        raise ValidationError(
            f"{source}: the image has shape {image.shape}; gistcad needs one 3-D volume"
        )
    proxy: Any = image.dataobj
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    if slope == 1.0 and inter == 0.0:
        array = np.asanyarray(proxy)
    else:
        array = np.asarray(proxy, dtype=np.float32)
    try:
        return Volume(array.reshape(shape, order="A"), image.affine)
    except ValidationError as exc:
        raise ValidationError(f"{source}: {exc}") from exc


def read_mask(path: str | os.PathLike[str], image: Volume, *, atol: float = GRID_ATOL_MM) -> Volume:
    """Read a label mask (NIfTI) that must lie on ``image``'s grid; return it as uint8.

    Raises
    ------
    GeometryMismatchError
        If the mask's shape or affine differs from the image's (both geometries in the message).
    ValidationError
        If the labels are not whole numbers in 0…255.
    """
    mask = read_nifti(path)
    require_same_grid(image, mask, names=("image", "mask"), source=str(path), atol=atol)
    values = np.asarray(mask.array)
    if values.dtype == np.uint8:
        return mask
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise ValidationError(
            f"{path}: the mask holds NaN or infinite values; labels must be 0…255"
        )
    low, high = (values.min(), values.max())
    if low < 0 or high > 255 or (values.dtype.kind == "f" and np.any(values != np.round(values))):
        raise ValidationError(
            f"{path}: mask values must be whole labels 0…255 (0 = background), found "
            f"{low:g}…{high:g}; export the mask as a label image, not a probability map"
        )
    return mask.with_array(values.astype(np.uint8))
