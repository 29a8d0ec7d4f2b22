"""Grow a tumour's 3-D outline from one click: intensity-range region growing with a leak guard.

Method
------
1. The intensity range is estimated from the click's neighbourhood: the median HU of the
   (smoothed) voxels within ``seed_radius_mm`` of the seed, ± ``tolerance_hu``, never below
   the floor: first :data:`FLUID_EDGE_HU` (the fluid against a tumour stays out), then, if
   that outline leaks, :data:`FAT_EDGE_HU` (``GrowOptions.floors_hu``).
2. Within a box around the seed, the image is smoothed (Gaussian, ``smoothing_mm``) and the
   voxels in range that are connected (6-neighbourhood) to the seed are kept [Adams]_.
3. The region is opened by reconstruction with growing radii (cuts bridges into touching
   organs), the component holding the seed kept; with the fluid floor, the one-voxel rim that
   partial volume with fat darkens below it is added back; then closed, and holes (necrosis,
   calcification) filled in 3-D and slice by slice [Soille]_.
4. When the region reaches a side of the box that is not the scan's edge, the box is tripled
   and the growth repeated, up to 1.25 × the radius of the largest plausible tumour: a tumour
   costs a small box, not the scan. A box over ``max_box_voxels`` is grown on a coarser
   in-plane grid, so a leak is refused in seconds on a 512 × 512 × 200 CT.
5. Leak guard: a region larger than ``max_volume_ml``, or touching the scan's in-plane edges
   over more than ``max_edge_area_mm2``, or spanning the scan from its first slice to its last,
   has grown out of the tumour and is refused with :class:`SegmentationError`.

References
----------
.. [Adams] Adams R, Bischof L. Seeded region growing. IEEE Trans Pattern Anal Mach Intell
   1994;16:641-647.
.. [Soille] Soille P. Morphological Image Analysis, 2nd ed. Springer 2003 (opening, closing,
   hole filling).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from gistcad.errors import GistcadError, ValidationError
from gistcad.imaging.volume import Volume

logger = logging.getLogger(__name__)

#: Below this median HU the click is on fat, air or lung, never on a GIST (solid or necrotic).
SOFT_TISSUE_MIN_HU = -50.0

#: Lowest HU kept, whatever the tolerance: halfway between fat (−100 HU) and the least dense
#: tumour (necrosis, about 20 HU) and above a voxel half fat, half solid tumour (≈ −25 HU).
FAT_EDGE_HU = -20.0

#: Lowest HU kept at the first try: above most of the fluid (bowel and stomach content,
#: ascites: 0-10 HU, noisy) that lies against a tumour, below its solid tissue.
FLUID_EDGE_HU = 5.0

#: Radii (mm) of the openings tried, after ``opening_mm``, to cut a region off a touching organ.
SEPARATION_RADII_MM = (4.0, 6.0, 8.0, 11.0, 15.0, 20.0, 27.0, 35.0)

LEAK_MESSAGE = (
    "the outline grew into the surrounding organs; click nearer the tumour's centre or lower "
    "the tolerance"
)


class SegmentationError(GistcadError):
    """An outline could not be grown from the click (it leaked, or the click is off tissue)."""


@dataclass(frozen=True)
class GrowOptions:
    """Settings of :func:`grow_from_seed`.

    Attributes
    ----------
    tolerance_hu
        Half-width of the intensity range around the seed neighbourhood's median, HU.
    seed_radius_mm
        Radius of the neighbourhood whose median sets the range's centre, mm.
    smoothing_mm
        Standard deviation of the Gaussian smoothing before thresholding, mm (0: none).
    opening_mm, closing_mm
        Radii of the opening and closing structuring elements, mm.
    start_box_mm
        Half-size of the first box grown in, mm; tripled while the region reaches its sides.
    max_volume_ml
        Largest plausible tumour, ml (a 20 cm sphere is about 4200 ml).
    max_edge_area_mm2
        Largest area the region may share with the scan's in-plane edges, mm².
    max_offset
        Largest distance from the click to the region's centroid, in radii of the sphere of
        the region's volume (plus one voxel).
    max_opening_ratio
        Largest opening radius that may cut a region off, in radii of that sphere.
    floors_hu
        The lowest HU kept, tried in turn: the next is tried when the outline grown with one
        has leaked (a tumour whose necrotic core lies below the first).
    max_box_voxels
        Most voxels a box is grown in: a larger box is grown on every n-th row and column
        (n the smallest that fits, after smoothing over n voxels), and the outline brought
        back to the full grid; a large tumour or a leak costs about as much as a small box.
    """

    tolerance_hu: float = 80.0
    seed_radius_mm: float = 4.0
    smoothing_mm: float = 1.0
    opening_mm: float = 2.0
    closing_mm: float = 2.0
    start_box_mm: float = 40.0
    max_volume_ml: float = 4500.0
    max_edge_area_mm2: float = 100.0
    max_offset: float = 0.25
    max_opening_ratio: float = 0.8
    max_box_voxels: int = 1_500_000
    floors_hu: tuple[float, ...] = (FLUID_EDGE_HU, FAT_EDGE_HU)

    def __post_init__(self) -> None:
        if not self.tolerance_hu > 0:
            raise ValidationError(
                f"the tolerance must be a positive number of HU, got {self.tolerance_hu}"
            )
        for name in ("seed_radius_mm", "start_box_mm", "max_volume_ml", "max_box_voxels"):
            if not getattr(self, name) > 0:
                raise ValidationError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.floors_hu:
            raise ValidationError("floors_hu needs at least one floor (HU)")


def seed_index(
    volume: Volume, *, seed_ijk: npt.ArrayLike | None = None, seed_mm: npt.ArrayLike | None = None
) -> tuple[int, int, int]:
    """The voxel (i, j, k) of a click given as voxel indices or as RAS+ world mm.

    Raises
    ------
    ValidationError
        If neither or both are given, or the point lies outside the scan.
    """
    if (seed_ijk is None) == (seed_mm is None):
        raise ValidationError("give the click either as voxel indices or in mm, not both")
    given = np.asarray(seed_ijk if seed_ijk is not None else seed_mm, dtype=np.float64)
    if given.shape != (3,) or not np.all(np.isfinite(given)):
        raise ValidationError(f"a click is three finite numbers, got {given.tolist()}")
    point = given if seed_ijk is not None else volume.world_to_index(given)[0]
    ijk = np.rint(point).astype(int)
    if np.any(ijk < 0) or np.any(ijk >= np.array(volume.shape)):
        raise ValidationError(
            f"the click {point.round(1).tolist()} (voxel {ijk.tolist()}) is outside the scan "
            f"of {volume.shape} voxels (i, j, k)"
        )
    return int(ijk[0]), int(ijk[1]), int(ijk[2])


def _ball(radius_mm: float, spacing: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """An ellipsoid of ``radius_mm`` on a grid of ``spacing`` (at least the 6-neighbour cross)."""
    half = np.floor(radius_mm / spacing).astype(int)
    if not half.any():
        return ndimage.generate_binary_structure(3, 1)
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist2 = sum((g * s) ** 2 for g, s in zip(grids, spacing, strict=True))
    ball = np.asarray(dist2 <= radius_mm**2 + 1e-9)
    return ball | _cross_in(ball.shape)


def _cross_in(shape: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    cross = np.zeros(shape, dtype=bool)
    centre = tuple(s // 2 for s in shape)
    for axis in range(3):
        index = list(centre)
        index[axis] = slice(max(centre[axis] - 1, 0), centre[axis] + 2)  # type: ignore[call-overload]
        cross[tuple(index)] = True
    return cross


def _component_at(region: npt.NDArray[np.bool_], seed: tuple[int, ...]) -> npt.NDArray[np.bool_]:
    """The 6-connected component of ``region`` that holds ``seed`` (empty if none does)."""
    if not region[seed]:
        return np.zeros_like(region)
    labels, _ = ndimage.label(region)
    return np.asarray(labels == labels[seed])


def _fill_holes(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Fill enclosed holes in 3-D, then in each axial slice (necrosis open to one side)."""
    filled = np.asarray(ndimage.binary_fill_holes(mask))
    for k in np.flatnonzero(filled.any(axis=(0, 1))):
        filled[:, :, k] = ndimage.binary_fill_holes(filled[:, :, k])
    return filled


@dataclass(frozen=True)
class _Box:
    lo: npt.NDArray[np.int_]
    hi: npt.NDArray[np.int_]  # exclusive

    @classmethod
    def around(
        cls, seed: tuple[int, int, int], half: npt.NDArray[np.int_], shape: tuple[int, int, int]
    ) -> _Box:
        centre = np.array(seed)
        return cls(np.maximum(centre - half, 0), np.minimum(centre + half + 1, shape))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(int(a), int(b)) for a, b in zip(self.lo, self.hi, strict=True))  # type: ignore[return-value]

    def scan_edges(self, shape: tuple[int, ...]) -> tuple[tuple[bool, bool], ...]:
        """Per axis, whether the box's first and last planes are the scan's."""
        return tuple(
            (bool(lo == 0), bool(hi == n))
            for lo, hi, n in zip(self.lo, self.hi, shape, strict=True)
        )

    def inner_sides_reached(self, mask: npt.NDArray[np.bool_], shape: tuple[int, ...]) -> bool:
        """Whether the mask touches a side of the box that is not an edge of the scan."""
        for axis in range(3):
            ends = np.moveaxis(mask, axis, 0)
            if self.lo[axis] > 0 and ends[0].any():
                return True
            if self.hi[axis] < shape[axis] and ends[-1].any():
                return True
        return False


def _in_plane_step(box: _Box, options: GrowOptions) -> int:
    """The row and column step that brings ``box`` within ``options.max_box_voxels``."""
    voxels = float(np.prod(box.hi - box.lo))
    return max(1, int(np.ceil(np.sqrt(voxels / options.max_box_voxels))))


def _grow_in_box(
    volume: Volume, box: _Box, seed: tuple[int, int, int], options: GrowOptions
) -> tuple[npt.NDArray[np.bool_], float]:
    """The outline inside ``box`` and the centre of its intensity range (HU).

    A box of more than ``options.max_box_voxels`` voxels is grown on a coarser in-plane grid
    (the centre of every ``step`` x ``step`` block, smoothed over ``step`` voxels first); each
    voxel of the box takes the value of its nearest coarse voxel.
    """
    step = _in_plane_step(box, options)
    spacing = volume.spacing_mm
    image = np.asarray(volume.array[box.slices], dtype=np.float32)
    sigma_mm = np.maximum(options.smoothing_mm, 0.5 * step * spacing * np.array([1, 1, 0]))
    if np.any(sigma_mm > 0):
        image = ndimage.gaussian_filter(image, sigma=sigma_mm / spacing, truncate=3.0)
    full_shape = image.shape
    first = step // 2  # each coarse voxel is the centre of its step x step block
    image = image[first::step, first::step, :]
    grid = spacing * np.array([step, step, 1.0])
    local = (
        min(int(np.rint((seed[0] - box.lo[0] - first) / step)), image.shape[0] - 1),
        min(int(np.rint((seed[1] - box.lo[1] - first) / step)), image.shape[1] - 1),
        int(seed[2] - box.lo[2]),
    )
    centre_hu = _seed_median(image, local, options.seed_radius_mm, grid)
    if centre_hu < SOFT_TISSUE_MIN_HU:
        raise SegmentationError(
            f"the click is on air or fat (median {centre_hu:.0f} HU around it), not on a "
            "tumour; click inside the tumour"
        )
    low = max(centre_hu - options.tolerance_hu, options.floors_hu[0])
    inside = (image >= low) & (image <= centre_hu + options.tolerance_hu)
    grown = _component_at(inside, _nearest_inside(inside, local))
    kept = _separate(grown, local, grid, box, volume.shape, options)
    if low > FAT_EDGE_HU:  # the rim that partial volume with fat darkens below the floor
        cross = ndimage.generate_binary_structure(3, 1)
        rim = (image >= FAT_EDGE_HU) & ndimage.binary_dilation(image < SOFT_TISSUE_MIN_HU, cross)
        kept |= ndimage.binary_dilation(kept, structure=cross) & rim
    closed = ndimage.binary_closing(np.pad(kept, 2), structure=_ball(options.closing_mm, grid))
    outline = _fill_holes(closed[2:-2, 2:-2, 2:-2] | kept)
    if step > 1:
        rows, cols = (  # each voxel of the box takes the value of the nearest coarse voxel
            np.clip(np.rint((np.arange(n) - first) / step), 0, m - 1).astype(int)
            for n, m in zip(full_shape[:2], outline.shape[:2], strict=True)
        )
        outline = outline[rows][:, cols]
    return outline, centre_hu


def _separate(
    grown: npt.NDArray[np.bool_],
    seed: tuple[int, ...],
    spacing: npt.NDArray[np.float64],
    box: _Box,
    shape: tuple[int, int, int],
    options: GrowOptions,
) -> npt.NDArray[np.bool_]:
    """Cut the region off the organs it touches: the smallest opening that frees it.

    The region is eroded by balls of growing radius; the eroded component nearest the seed is
    dilated back by the same radius within the region (an opening by reconstruction). The
    first radius whose result stays within the box's inner sides and the leak guard's limits
    wins, provided the click lies in it near its centre (:func:`_centred`). If none wins,
    the plain opening of radius ``opening_mm`` is returned (and the box grows, or the leak
    guard refuses it).
    """
    depth = ndimage.distance_transform_edt(grown, sampling=spacing)
    fallback = grown
    for radius in (options.opening_mm, *SEPARATION_RADII_MM):
        eroded = depth > radius
        if not eroded.any():
            break
        core = _component_at(eroded, _nearest_inside(eroded, seed))
        candidate = _dilated(core, radius, spacing) & grown
        if radius == options.opening_mm:
            fallback = candidate
        if (
            candidate[seed]
            and _centred(candidate, seed, radius, spacing, options)
            and not box.inner_sides_reached(candidate, shape)
            and _leak(candidate, spacing, options, box.scan_edges(shape)) is None
        ):
            return candidate
    return fallback


def _dilated(
    mask: npt.NDArray[np.bool_], radius_mm: float, spacing: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """``mask`` dilated by a ball of ``radius_mm`` (distance transform within its bounding
    box widened by the radius: the cost of the mask's neighbourhood, not of the array)."""
    points = np.argwhere(mask)
    margin = np.ceil(radius_mm / spacing).astype(int) + 1
    lo = np.maximum(points.min(axis=0) - margin, 0)
    hi = np.minimum(points.max(axis=0) + margin + 1, mask.shape)
    window = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    out = np.zeros_like(mask)
    out[window] = (
        ndimage.distance_transform_edt(~mask[window], sampling=spacing) <= radius_mm + 1e-6
    )
    return out


def _sphere_radius_mm(volume_mm3: float) -> float:
    """Radius (mm) of the sphere of ``volume_mm3``."""
    return float((3.0 * volume_mm3 / (4.0 * np.pi)) ** (1.0 / 3.0))


def _centred(
    mask: npt.NDArray[np.bool_],
    seed: tuple[int, ...],
    opening_mm: float,
    spacing: npt.NDArray[np.float64],
    options: GrowOptions,
) -> bool:
    """Whether the region is a blob around the click rather than a piece of something larger.

    Its centroid must be within ``max_offset`` radii (of the sphere of the region's volume)
    of the seed, plus one voxel (a region that ran into a neighbour is off the click), and the
    opening that made it at most ``max_opening_ratio`` of that radius (a bigger opening has
    carved a ball out of a larger organ rather than cut a tumour off it).
    """
    points = np.argwhere(mask)
    if len(points) == 0:
        return False
    offset_mm = float(np.linalg.norm((points.mean(axis=0) - np.array(seed)) * spacing))
    radius_mm = (3.0 * len(points) * float(np.prod(spacing)) / (4.0 * np.pi)) ** (1.0 / 3.0)
    return (
        offset_mm <= options.max_offset * radius_mm + float(spacing.max())
        and opening_mm <= options.max_opening_ratio * radius_mm
    )


def _leak(
    mask: npt.NDArray[np.bool_],
    spacing: npt.NDArray[np.float64],
    options: GrowOptions,
    edges: tuple[tuple[bool, bool], ...] = ((True, True),) * 3,
) -> str | None:
    """Why ``mask`` has leaked out of a tumour, or None if it has not.

    ``edges`` says, per axis, whether the mask's first and last planes are the scan's (a mask
    of a box inside the scan has fewer of them; by default the mask covers the scan).
    """
    volume_ml = float(mask.sum()) * float(np.prod(spacing)) / 1000.0
    if volume_ml > options.max_volume_ml:
        return f"{volume_ml:.0f} ml, more than {options.max_volume_ml:.0f} ml"
    edge_mm2 = 0.0
    for axis, other in ((0, (1, 2)), (1, (0, 2))):
        planes = np.moveaxis(mask, axis, 0)
        area = float(spacing[other[0]] * spacing[other[1]])
        first, last = edges[axis]
        edge_mm2 += area * (first * int(planes[0].sum()) + last * int(planes[-1].sum()))
    if edge_mm2 > options.max_edge_area_mm2:
        return f"{edge_mm2:.0f} mm² on the scan's in-plane edges"
    first, last = edges[2]
    if first and last and mask.shape[2] > 1 and mask[:, :, 0].any() and mask[:, :, -1].any():
        return "it spans the scan from its first slice to its last"
    return None


def _seed_median(
    image: npt.NDArray[np.float32],
    seed: tuple[int, ...],
    radius_mm: float,
    spacing: npt.NDArray[np.float64],
) -> float:
    ball = _ball(radius_mm, spacing)
    half = np.array(ball.shape) // 2
    lo = np.array(seed) - half
    window = tuple(slice(max(int(a), 0), int(a) + n) for a, n in zip(lo, ball.shape, strict=True))
    values = image[window]
    cut = tuple(
        slice(max(-int(a), 0), max(-int(a), 0) + v) for a, v in zip(lo, values.shape, strict=True)
    )
    return float(np.median(values[ball[cut]]))


def _nearest_inside(region: npt.NDArray[np.bool_], seed: tuple[int, ...]) -> tuple[int, ...]:
    """``seed`` if it is in ``region``, else the region's voxel nearest to it (in voxels)."""
    if region[seed] or not region.any():
        return seed
    points = np.argwhere(region)
    nearest = points[np.argmin(((points - np.array(seed)) ** 2).sum(axis=1))]
    return tuple(int(v) for v in nearest)


def _check_leak(mask: npt.NDArray[np.bool_], volume: Volume, options: GrowOptions) -> None:
    """Refuse an outline that has grown out of the tumour (see the module docstring)."""
    reason = _leak(mask, volume.spacing_mm, options)
    if reason is not None:
        logger.info("outline refused: %s", reason)
        raise SegmentationError(LEAK_MESSAGE)


def grow_from_seed(
    volume: Volume,
    *,
    seed_ijk: npt.ArrayLike | None = None,
    seed_mm: npt.ArrayLike | None = None,
    tolerance_hu: float | None = None,
    options: GrowOptions | None = None,
) -> Volume:
    """Grow the tumour's outline from one click and return it as a mask on ``volume``'s grid.

    Parameters
    ----------
    volume
        The CT, HU, any (i, j, k) grid.
    seed_ijk, seed_mm
        The click: voxel indices (i, j, k), or a RAS+ point in mm; exactly one.
    tolerance_hu
        Half-width of the intensity range, HU; overrides ``options.tolerance_hu``.
    options
        The other settings (:class:`GrowOptions`).

    Returns
    -------
    Volume
        uint8 mask (1 = tumour), shape and affine of ``volume``.

    Raises
    ------
    SegmentationError
        If the click is on air or fat, or the region leaks out of the tumour.
    """
    opts = options or GrowOptions()
    if tolerance_hu is not None:
        opts = GrowOptions(**{**opts.__dict__, "tolerance_hu": float(tolerance_hu)})
    seed = seed_index(volume, seed_ijk=seed_ijk, seed_mm=seed_mm)
    for number, floor in enumerate(opts.floors_hu, start=1):
        try:
            return _grow(volume, seed, GrowOptions(**{**opts.__dict__, "floors_hu": (floor,)}))
        except SegmentationError as error:
            if str(error) != LEAK_MESSAGE or number == len(opts.floors_hu):
                raise
            logger.info("leaked with the floor at %.0f HU: grown again with a lower one", floor)
    raise AssertionError("unreachable: the last floor returns or raises")


def _grow(volume: Volume, seed: tuple[int, int, int], opts: GrowOptions) -> Volume:
    """:func:`grow_from_seed` with the first of ``opts.floors_hu``."""
    half = np.maximum(np.ceil(opts.start_box_mm / volume.spacing_mm), 2).astype(int)
    # A tumour within the volume limit, clicked near its centre, fits in a box of half-size
    # 1.25 × the radius of the sphere of that volume; a region that still reaches the sides of
    # a box that large has leaked. The box grows threefold: few regrowths before that limit.
    largest = np.ceil(1.25 * _sphere_radius_mm(opts.max_volume_ml * 1000.0) / volume.spacing_mm)
    while True:
        box = _Box.around(seed, half, volume.shape)
        local, centre_hu = _grow_in_box(volume, box, seed, opts)
        whole_scan = bool(np.all(box.lo == 0) and np.all(box.hi == volume.shape))
        if whole_scan or not box.inner_sides_reached(local, volume.shape):
            break
        if np.all(half >= largest):
            logger.info("outline refused: it reaches the sides of a %s-voxel box", half * 2 + 1)
            raise SegmentationError(LEAK_MESSAGE)
        half = np.minimum(half * 3, largest).astype(int)
    mask = np.zeros(volume.shape, dtype=np.uint8)
    mask[box.slices] = local
    _check_leak(mask.astype(bool), volume, opts)
    logger.info(
        "outline grown from voxel %s: range %.0f ± %.0f HU above %.0f HU, %d voxels",
        seed,
        centre_hu,
        opts.tolerance_hu,
        opts.floors_hu[0],
        int(mask.sum()),
    )
    return volume.with_array(mask)
