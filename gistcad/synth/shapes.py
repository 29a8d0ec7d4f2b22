"""Analytic shapes of the synthetic CT phantom and their rasterising on axial slabs.

Shapes live in LPS patient coordinates (mm; x to the patient's left, y posterior, z
superior) around a body centred on x = y = 0. Each shape is an :class:`Ellipsoid` or a
vertical :class:`Cylinder`; a lumen shape may hold air anterior to an air-fluid level
(supine patient) and its own content below it. The :class:`Body` outline gives the layers
of air, subcutaneous fat, wall muscle and visceral fat that the shapes are painted over.

A slice of thickness ``T`` is rasterised by painting the shapes in order over the body
layers: ``img += f * (hu - img)`` where ``f`` is the fraction of the slab covered by the
shape. For ellipsoids ``f`` is the exact overlap of the shape's z extent at each pixel with
the slab (partial-volume averaging along z without sub-slices); for cylinders it is the
overlap of their z range with the slab. In-plane edges are hard at pixel centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gistcad.synth.tissues import Tissues

FloatArray = np.ndarray


@dataclass(frozen=True)
class Ellipsoid:
    """An ellipsoid; ``axes`` are semi-axes (mm), ``angle`` an in-plane rotation (rad).

    ``air_above_y``: for a lumen, air (−1000 HU) where y < this value (anterior, supine).
    """

    centre: tuple[float, float, float]
    axes: tuple[float, float, float]
    hu: float
    angle: float = 0.0
    air_above_y: float | None = None

    @property
    def z_range(self) -> tuple[float, float]:
        return self.centre[2] - self.axes[2], self.centre[2] + self.axes[2]


@dataclass(frozen=True)
class Cylinder:
    """A vertical elliptic cylinder from ``z0`` to ``z1`` (mm) whose centre (x, y) and
    semi-axes (a, b) move linearly from ``*0`` at ``z0`` to ``*1`` at ``z1``."""

    z0: float
    z1: float
    centre0: tuple[float, float]
    centre1: tuple[float, float]
    axes0: tuple[float, float]
    axes1: tuple[float, float]
    hu: float
    angle: float = 0.0
    air_above_y: float | None = None

    @property
    def z_range(self) -> tuple[float, float]:
        return self.z0, self.z1


Shape = Ellipsoid | Cylinder


@dataclass(frozen=True)
class Body:
    """Body outline: concentric half-ellipses (anterior and posterior semi-axes differ).

    ``knots_z`` (mm) with the lateral semi-axis ``half_width`` and the anterior/posterior
    semi-axes ``half_ap_anterior``/``half_ap_posterior`` at each knot (mm), linearly
    interpolated; ``fat_mm`` subcutaneous fat and ``muscle_mm`` abdominal wall thickness.
    """

    knots_z: tuple[float, ...]
    half_width: tuple[float, ...]
    half_ap_anterior: tuple[float, ...]
    half_ap_posterior: tuple[float, ...]
    fat_mm: float
    muscle_mm: float

    def axes_at(self, z: float) -> tuple[float, float, float]:
        """(lateral, anterior, posterior) semi-axes of the skin outline at ``z``, mm."""
        return (
            float(np.interp(z, self.knots_z, self.half_width)),
            float(np.interp(z, self.knots_z, self.half_ap_anterior)),
            float(np.interp(z, self.knots_z, self.half_ap_posterior)),
        )

    def cavity_axes_at(self, z: float) -> tuple[float, float, float]:
        """Semi-axes of the peritoneal cavity (inside fat and wall muscle) at ``z``, mm."""
        inset = self.fat_mm + self.muscle_mm
        a, b_ant, b_post = self.axes_at(z)
        return a - inset, b_ant - inset, b_post - 0.5 * inset

    def scaled_to_contain(self, half_width: float, anterior: float) -> Body:
        """A copy whose cavity is at least ``half_width`` (lateral) and ``anterior`` (from
        the centre forwards) mm at every z; the posterior outline scales alike."""
        inset = self.fat_mm + self.muscle_mm
        sx = max(1.0, (half_width + inset) / min(self.half_width))
        sy = max(1.0, (anterior + inset) / min(self.half_ap_anterior))
        return Body(
            self.knots_z,
            tuple(v * sx for v in self.half_width),
            tuple(v * sy for v in self.half_ap_anterior),
            tuple(v * sy for v in self.half_ap_posterior),
            self.fat_mm,
            self.muscle_mm,
        )


@dataclass(frozen=True)
class Grid:
    """In-plane pixel centres: ``x`` (cols,) and ``y`` (rows,) in mm, square pixels of
    ``spacing`` mm (float32 coordinates for speed, the exact spacing kept apart)."""

    x: FloatArray
    y: FloatArray
    spacing: float

    def index_range(self, coords: FloatArray, lo: float, hi: float) -> tuple[int, int]:
        start = coords[0]
        i0 = max(0, int(np.floor((lo - start) / self.spacing)))
        i1 = min(coords.size, int(np.ceil((hi - start) / self.spacing)) + 1)
        return i0, i1


def _window(
    grid: Grid, x_lo: float, x_hi: float, y_lo: float, y_hi: float
) -> tuple[slice, slice] | None:
    """(rows, cols) slices of the pixels whose centres lie in the box (mm), or ``None``."""
    i0, i1 = grid.index_range(grid.x, x_lo, x_hi)
    j0, j1 = grid.index_range(grid.y, y_lo, y_hi)
    if i1 <= i0 or j1 <= j0:
        return None
    return slice(j0, j1), slice(i0, i1)


def _half_extents(a: FloatArray, b: FloatArray, angle: float) -> tuple[FloatArray, FloatArray]:
    c, s = np.cos(angle), np.sin(angle)
    return np.hypot(a * c, b * s), np.hypot(a * s, b * c)


def _quadratic(
    dx: FloatArray, dy: FloatArray, a: FloatArray | float, b: FloatArray | float, angle: float
) -> FloatArray:
    """(x/a)² + (y/b)² in the frame rotated by ``angle``; ≤ 1 inside the ellipse."""
    if angle == 0.0:
        return (dx / a) ** 2 + (dy / b) ** 2
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return ((c * dx + s * dy) / a) ** 2 + ((c * dy - s * dx) / b) ** 2


def _content(shape: Shape, y: FloatArray) -> FloatArray | float:
    """The shape's HU, with air anterior to its air-fluid level (rows broadcast)."""
    if shape.air_above_y is None:
        return shape.hu
    return np.where(y < shape.air_above_y, np.float32(-1000.0), np.float32(shape.hu))


def _paint_ellipsoid(
    out: FloatArray, grid: Grid, shape: Ellipsoid, zlo: FloatArray, zhi: FloatArray, ks: slice
) -> None:
    """Paint over slices ``ks``: the in-plane form is computed once, the exact z overlap of
    the ellipsoid with each slab [zlo, zhi] per slice."""
    cx, cy, cz = shape.centre
    a, b, c = shape.axes
    ex, ey = (float(v) for v in _half_extents(np.asarray(a), np.asarray(b), shape.angle))
    window = _window(grid, cx - ex, cx + ex, cy - ey, cy + ey)
    if window is None:
        return
    dx = (grid.x[window[1]] - np.float32(cx))[None, :]
    dy = (grid.y[window[0]] - np.float32(cy))[:, None]
    half = np.float32(c) * np.sqrt(np.maximum(1.0 - _quadratic(dx, dy, a, b, shape.angle), 0))
    top = np.minimum(half + np.float32(cz), zhi[ks, None, None])
    top -= np.maximum(np.float32(cz) - half, zlo[ks, None, None])
    frac = np.maximum(top, 0.0, out=top)
    frac /= zhi[0] - zlo[0]
    region = out[ks, window[0], window[1]]
    region += frac * (_content(shape, dy + np.float32(cy)) - region)


def _paint_cylinder(
    out: FloatArray, grid: Grid, shape: Cylinder, zlo: FloatArray, zhi: FloatArray, ks: slice
) -> None:
    """Paint over slices ``ks``: per-slice cross-section, z-range overlap fraction."""
    zc = 0.5 * (zlo[ks] + zhi[ks])
    t = np.clip((zc - shape.z0) / (shape.z1 - shape.z0), 0.0, 1.0)
    cx, cy, a, b = (
        v0 + t * (v1 - v0)
        for v0, v1 in (
            (shape.centre0[0], shape.centre1[0]),
            (shape.centre0[1], shape.centre1[1]),
            (shape.axes0[0], shape.axes1[0]),
            (shape.axes0[1], shape.axes1[1]),
        )
    )
    ex, ey = _half_extents(a, b, shape.angle)
    window = _window(
        grid,
        float(np.min(cx - ex)),
        float(np.max(cx + ex)),
        float(np.min(cy - ey)),
        float(np.max(cy + ey)),
    )
    if window is None:
        return
    col = lambda v: v.astype(np.float32)[:, None, None]  # noqa: E731
    dx = grid.x[window[1]][None, None, :] - col(cx)
    dy = grid.y[window[0]][None, :, None] - col(cy)
    overlap = np.minimum(shape.z1, zhi[ks]) - np.maximum(shape.z0, zlo[ks])
    frac = (_quadratic(dx, dy, col(a), col(b), shape.angle) <= 1.0) * col(
        np.clip(overlap / (zhi[0] - zlo[0]), 0.0, 1.0)
    )
    region = out[ks, window[0], window[1]]
    region += frac * (_content(shape, grid.y[window[0]][None, :, None]) - region)


def _body_layers(grid: Grid, body: Body, tissues: Tissues, z_centres: FloatArray) -> FloatArray:
    """Air, subcutaneous fat, wall muscle, visceral fat: nested half-ellipses per slice.

    Each layer's half-width per (slice, row) is compared with |x|; the layer index is the
    number of outlines a voxel lies in.
    """
    knots = np.asarray(body.knots_z)
    a = np.interp(z_centres, knots, body.half_width)[:, None]
    b_ant = np.interp(z_centres, knots, body.half_ap_anterior)[:, None]
    b_post = np.interp(z_centres, knots, body.half_ap_posterior)[:, None]
    y = grid.y[None, :].astype(float)
    abs_x = np.abs(grid.x)[None, None, :]
    layer = np.zeros((z_centres.size, grid.y.size, grid.x.size), dtype=np.uint8)
    for inset in (0.0, body.fat_mm, body.fat_mm + body.muscle_mm):
        b = np.where(y < 0.0, b_ant - inset, b_post - 0.5 * inset)
        width = (a - inset) * np.sqrt(np.clip(1.0 - (y / b) ** 2, 0.0, None))
        layer += abs_x <= width.astype(np.float32)[:, :, None]
    lut = np.array([tissues.air, tissues.fat, tissues.muscle, tissues.fat], dtype=np.float32)
    return lut[layer]


def paint_table(out: FloatArray, grid: Grid, top_y: float) -> None:
    """The CT table under a supine patient: a 12 mm slab with a dense top below ``top_y``."""
    half = 0.42 * grid.x.size * grid.spacing
    window = _window(grid, -half, half, top_y, top_y + 12.0)
    if window is not None:
        out[:, window[0], window[1]] = -300.0
        out[:, window[0].start : window[0].start + 2, window[1]] = 200.0


def render_slices(
    shapes: Sequence[Shape],
    body: Body,
    tissues: Tissues,
    grid: Grid,
    z_centres: FloatArray,
    thickness: float,
) -> FloatArray:
    """HU of the anatomy on axial slabs of ``thickness`` mm centred at ``z_centres`` (mm).

    ``z_centres`` must ascend. Shapes are painted one by one over all their slices at
    once, in order, so every slice sees the same painting order.

    Returns
    -------
    numpy.ndarray
        float32, shape (len(z_centres), len(grid.y), len(grid.x)).
    """
    out = _body_layers(grid, body, tissues, z_centres)
    paint_table(out, grid, max(body.half_ap_posterior) + 8.0)
    zlo = (z_centres - 0.5 * thickness).astype(np.float32)
    zhi = (z_centres + 0.5 * thickness).astype(np.float32)
    for shape in shapes:
        lo, hi = shape.z_range
        ks = slice(int(np.searchsorted(zhi, lo, side="right")), int(np.searchsorted(zlo, hi)))
        if ks.stop <= ks.start:
            continue
        if isinstance(shape, Ellipsoid):
            _paint_ellipsoid(out, grid, shape, zlo, zhi, ks)
        else:
            _paint_cylinder(out, grid, shape, zlo, zhi, ks)
    return out
