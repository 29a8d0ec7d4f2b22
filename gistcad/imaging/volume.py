"""The one image type of gistcad: a 3-D array on a grid placed in the patient by a 4×4 affine.

Coordinate convention (the NIfTI / nibabel one)
-----------------------------------------------
- The array is indexed ``(i, j, k)`` = (column, row, slice): ``i`` runs along a DICOM image row
  (left to right on screen), ``j`` down the rows, ``k`` across slices.
- The affine maps a voxel centre ``(i, j, k, 1)`` to world coordinates ``(x, y, z, 1)`` in
  millimetres in **RAS+**, as NIfTI does: +x points to the patient's Right, +y Anterior,
  +z Superior.
- DICOM uses **LPS+** (+x = Left, +y = Posterior, +z = Superior). A DICOM affine is turned
  into ours by negating its first two rows: ``affine_ras = diag(-1, -1, 1, 1) @ affine_lps``
  (:func:`lps_to_ras`). The voxels do not move; only the world axes are named differently.

A :class:`Volume` is frozen: its array is stored as a read-only view and every operation
returns a new :class:`Volume`. The array may be a memory map (see
:func:`gistcad.imaging.nifti_io.read_nifti`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gistcad.errors import ValidationError
from gistcad.imaging.errors import GeometryMismatchError

#: Flip between DICOM's LPS+ and NIfTI's RAS+ world axes (its own inverse).
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])

#: Default tolerance (mm) when comparing two grids' affines.
GRID_ATOL_MM = 1e-3


def lps_to_ras(affine_lps: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Turn a DICOM (LPS+) affine into a NIfTI (RAS+) affine; the same call goes back.

    >>> lps_to_ras(np.eye(4))[:3, :3].diagonal().tolist()
    [-1.0, -1.0, 1.0]
    """
    return LPS_TO_RAS @ np.asarray(affine_lps, dtype=np.float64)


def _validate_affine(affine: npt.ArrayLike) -> npt.NDArray[np.float64]:
    a = np.array(affine, dtype=np.float64)
    if a.shape != (4, 4):
        raise ValidationError(f"an affine must be 4×4, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValidationError(f"the affine holds non-finite values (NaN or inf):\n{a}")
    if not np.allclose(a[3], [0.0, 0.0, 0.0, 1.0]):
        raise ValidationError(f"the affine's last row must be [0, 0, 0, 1], got {a[3].tolist()}")
    a[3] = [0.0, 0.0, 0.0, 1.0]
    det = float(np.linalg.det(a[:3, :3]))
    if abs(det) < 1e-9:
        raise ValidationError(
            f"the affine is not invertible (determinant {det:g}): a voxel spacing is zero or "
            f"two axes coincide:\n{a}"
        )
    return a


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image: ``array`` of shape (I, J, K) and the ``affine`` (4, 4) voxel → RAS+ mm.

    Parameters
    ----------
    array
        Voxel values, shape (I, J, K) = (columns, rows, slices). Stored as a read-only view,
        never copied (a memory map stays a memory map).
    affine
        Maps voxel indices (i, j, k, 1) to RAS+ world coordinates in mm; finite, last row
        ``[0, 0, 0, 1]``, invertible.
    """

    array: npt.NDArray[np.generic]
    affine: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        arr = np.asanyarray(self.array)
        if arr.ndim != 3:
            raise ValidationError(f"a Volume must be 3-D (i, j, k), got shape {arr.shape}")
        if 0 in arr.shape:
            raise ValidationError(f"a Volume must not be empty, got shape {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise ValidationError(f"a Volume holds numbers, got dtype {arr.dtype}")
        view = arr.view()
        view.flags.writeable = False
        affine = _validate_affine(self.affine)
        affine.flags.writeable = False
        object.__setattr__(self, "array", view)
        object.__setattr__(self, "affine", affine)

    # --- geometry, in units -------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of voxels along (i, j, k)."""
        i, j, k = self.array.shape
        return int(i), int(j), int(k)

    @property
    def spacing_mm(self) -> npt.NDArray[np.float64]:
        """Distance between voxel centres along i, j, k, in millimetres, shape (3,)."""
        return np.asarray(np.linalg.norm(self.affine[:3, :3], axis=0), dtype=np.float64)

    @property
    def voxel_volume_mm3(self) -> float:
        """Volume of one voxel in cubic millimetres (|det| of the affine's 3×3 part)."""
        return float(abs(np.linalg.det(self.affine[:3, :3])))

    @property
    def orientation(self) -> npt.NDArray[np.float64]:
        """Direction cosines, shape (3, 3): column ``n`` is the RAS+ unit vector of axis ``n``."""
        return np.asarray(self.affine[:3, :3] / self.spacing_mm, dtype=np.float64)

    @property
    def origin_mm(self) -> npt.NDArray[np.float64]:
        """RAS+ position in mm of the centre of voxel (0, 0, 0), shape (3,)."""
        return np.array(self.affine[:3, 3], dtype=np.float64)

    @property
    def axcodes(self) -> str:
        """Which anatomical direction each array axis points to, e.g. ``"LPS"`` or ``"RAS"``."""
        codes = []
        for column in self.orientation.T:
            axis = int(np.argmax(np.abs(column)))
            positive = column[axis] > 0
            codes.append(("RAS" if positive else "LPI")[axis])
        return "".join(codes)

    # --- coordinates --------------------------------------------------------------------

    def index_to_world(self, ijk: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Voxel indices (N, 3) (fractional allowed) → RAS+ mm (N, 3)."""
        points = np.atleast_2d(np.asarray(ijk, dtype=np.float64))
        return np.asarray(points @ self.affine[:3, :3].T + self.affine[:3, 3], dtype=np.float64)

    def world_to_index(self, xyz: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """RAS+ mm (N, 3) → fractional voxel indices (N, 3)."""
        points = np.atleast_2d(np.asarray(xyz, dtype=np.float64))
        inverse = np.linalg.inv(self.affine)
        return np.asarray(points @ inverse[:3, :3].T + inverse[:3, 3], dtype=np.float64)

    # --- comparisons and operations -----------------------------------------------------

    def same_grid(self, other: Volume, atol: float = GRID_ATOL_MM) -> bool:
        """Whether ``other`` has the same shape and an affine equal within ``atol`` (mm)."""
        return self.shape == other.shape and bool(
            np.allclose(self.affine, other.affine, rtol=0.0, atol=atol)
        )

    def with_array(self, array: npt.ArrayLike) -> Volume:
        """A new Volume on the same grid holding ``array`` (same shape required)."""
        arr = np.asanyarray(array)
        if arr.shape != self.shape:
            raise ValidationError(
                f"the new array has shape {arr.shape}, the grid has {self.shape}; "
                "with_array keeps the grid, so the shapes must match"
            )
        return Volume(arr, self.affine)

    def astype(self, dtype: npt.DTypeLike) -> Volume:
        """A new Volume with the values cast to ``dtype`` (no copy if already that type)."""
        return Volume(self.array.astype(dtype, copy=False), self.affine)

    def equals(self, other: Volume, atol: float = GRID_ATOL_MM) -> bool:
        """Same grid (within ``atol`` mm), same dtype and identical voxel values."""
        return (
            self.same_grid(other, atol)
            and self.array.dtype == other.array.dtype
            and bool(np.array_equal(self.array, other.array))
        )

    def __repr__(self) -> str:
        return f"Volume({describe_geometry(self)}, dtype={self.array.dtype})"


def describe_geometry(volume: Volume) -> str:
    """A one-line description of a grid: shape, spacing (mm), axis codes and origin (mm).

    >>> describe_geometry(Volume(np.zeros((2, 3, 4)), np.eye(4)))
    'shape 2×3×4, spacing 1×1×1 mm, axes RAS, origin (0, 0, 0) mm'
    """
    shape = "×".join(str(n) for n in volume.shape)
    spacing = "×".join(f"{s:.4g}" for s in volume.spacing_mm)
    origin = ", ".join(f"{x:.4g}" for x in volume.origin_mm)
    return f"shape {shape}, spacing {spacing} mm, axes {volume.axcodes}, origin ({origin}) mm"


def geometry_mismatch(
    reference: Volume,
    other: Volume,
    *,
    names: tuple[str, str] = ("image", "mask"),
    atol: float = GRID_ATOL_MM,
) -> str | None:
    """Say in words how ``other``'s grid differs from ``reference``'s, or ``None`` if it doesn't.

    The message gives both geometries so the reader can see which file is off.
    """
    if reference.same_grid(other, atol):
        return None
    differences = []
    if reference.shape != other.shape:
        differences.append("shape")
    if not np.allclose(reference.spacing_mm, other.spacing_mm, rtol=0.0, atol=atol):
        differences.append("spacing")
    if not np.allclose(reference.orientation, other.orientation, rtol=0.0, atol=1e-4):
        differences.append("orientation")
    if not np.allclose(reference.origin_mm, other.origin_mm, rtol=0.0, atol=atol):
        differences.append("origin")
    what = ", ".join(differences) or "affine"
    return (
        f"the {names[1]} is not on the {names[0]}'s voxel grid ({what} differ): "
        f"{names[0]} has {describe_geometry(reference)}; "
        f"{names[1]} has {describe_geometry(other)}. "
        f"Export the {names[1]} on the {names[0]}'s grid (same shape and affine) and import again."
    )


def require_same_grid(
    reference: Volume,
    other: Volume,
    *,
    names: tuple[str, str] = ("image", "mask"),
    source: str = "",
    atol: float = GRID_ATOL_MM,
) -> None:
    """Raise :class:`GeometryMismatchError` naming ``source`` if the grids differ."""
    message = geometry_mismatch(reference, other, names=names, atol=atol)
    if message is not None:
        prefix = f"{source}: " if source else ""
        raise GeometryMismatchError(prefix + message)
