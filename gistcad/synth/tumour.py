"""The GIST of the synthetic CT phantom: its lobulated shape, placement and texture.

A tumour is an ellipsoid whose radius swells into a few lobes (:class:`Tumour`), scaled so
that its largest 3-D diameter is the record's size, centred on the wall of its host organ
(pushed outwards when exophytic) and kept inside the peritoneal cavity, anterior to the
spine. It is blended into a rendered volume with partial-volume averaging over ≤ 1 mm
sub-planes of each slab. Tumour HU follow ``gist_facts.md`` §8 [D]: solid part water +
``enhancement_hu`` × ``hu_scale`` with correlated texture of SD 22 × heterogeneity HU (at
least ``grain_floor_hu``, 25 HU, in a primary tumour) whose grain shows the prognostic trait
(:func:`grained_texture`, :func:`texture_sd_hu`),
necrotic core N(20, 8) HU occupying ``necrosis_fraction`` of the volume, calcified foci of
700–1100 HU (``gist_facts.md`` §8 gives only "> 300 HU"; dense calcification is about
1,000 HU, cortical bone up to about 1,500 HU [M]). Foci are a union (overlapping foci count
once) and the blended tumour is clamped to :data:`CALCIFIED_MAX_HU`, so that no tumour voxel
exceeds dense calcium before the scanner's noise, whatever the foci's overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from gistcad.synth.anatomy import Abdomen, Anchor
from gistcad.synth.centers import CenterProfile
from gistcad.synth.params import DEFAULT_PARAMS
from gistcad.synth.prognostic_trait import grain_cell_mm, trait_rng
from gistcad.synth.shapes import Grid

_SPINE_Y = 25.0  # tumours stay anterior to the vertebral bodies (LPS y, mm)
#: the densest a calcified focus is drawn, HU; no voxel the tumour covers exceeds it before noise
CALCIFIED_MAX_HU = 1100.0


@dataclass(frozen=True)
class Tumour:
    """A lobulated ellipsoid: radius(u) = ellipsoid radius(u) × (1 + Σ bumps) (mm)."""

    centre: np.ndarray  # (3,) anatomical mm
    axes: np.ndarray  # (3,) semi-axes mm, in the frame rotated by ``angle`` about z
    angle: float
    bumps: np.ndarray  # (k, 3) unit directions
    amplitudes: np.ndarray  # (k,) relative radius gain at each bump's apex

    def rho(self, dx: np.ndarray, dy: np.ndarray, dz: np.ndarray) -> np.ndarray:
        """Normalised radius of offsets from the centre (mm); ≤ 1 inside. Volume of
        {rho ≤ t} is t³ × the tumour volume (star-shaped about the centre)."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        u, v = c * dx + s * dy, c * dy - s * dx
        q = np.sqrt((u / self.axes[0]) ** 2 + (v / self.axes[1]) ** 2 + (dz / self.axes[2]) ** 2)
        r = np.sqrt(dx * dx + dy * dy + dz * dz) + np.float32(1e-6)
        lobe = np.ones_like(r)
        for (bx, by, bz), amp in zip(self.bumps, self.amplitudes, strict=True):
            cosine = (bx * dx + by * dy + bz * dz) / r
            lobe += np.float32(amp) * np.exp((cosine - 1.0) * np.float32(5.0))
        return q / lobe

    def surface(self, directions: np.ndarray) -> np.ndarray:
        """Surface points (n, 3) offset from the centre along unit ``directions`` (n, 3)."""
        rho_unit = self.rho(*directions.T)
        return directions / rho_unit[:, None]


def _fibonacci_sphere(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    phi, theta = np.arccos(1 - 2 * i / n), np.pi * (1 + 5**0.5) * i
    return np.column_stack([np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)])


def draw_tumour(size_mm: float, lobulation: float, rng: np.random.Generator) -> Tumour:
    """Shape with largest 3-D diameter ``size_mm`` (max distance of 400 surface points)."""
    axes = np.array([1.0, rng.uniform(0.75, 0.95), rng.uniform(0.7, 0.9)])
    n_bumps = 6
    bumps = rng.normal(size=(n_bumps, 3))
    bumps /= np.linalg.norm(bumps, axis=1, keepdims=True)
    amplitudes = lobulation * rng.uniform(0.1, 0.35, size=n_bumps)
    shape = Tumour(np.zeros(3), axes, float(rng.uniform(0, np.pi)), bumps, amplitudes)
    points = shape.surface(_fibonacci_sphere(400))
    diameter = np.max(np.linalg.norm(points[:, None, :] - points[None, :, :], axis=-1))
    return Tumour(np.zeros(3), axes * size_mm / diameter, shape.angle, bumps, amplitudes)


def place_tumour(
    shape: Tumour, anchor: Anchor, exophytic: bool, abdomen: Abdomen
) -> tuple[Tumour, Abdomen, np.ndarray]:
    """Centre the tumour on its wall (pushed out when exophytic), inside the cavity.

    Returns the placed tumour, the abdomen (body enlarged when the tumour does not fit)
    and the tumour's bounding offsets (2, 3) from its centre, mm.
    """
    surface = shape.surface(_fibonacci_sphere(400))
    lo, hi = surface.min(axis=0), surface.max(axis=0)
    radius = float(np.mean(hi - lo)) / 2
    normal = np.asarray(anchor.normal)
    centre = np.asarray(anchor.point) + normal * radius * (0.6 if exophytic else -0.1)
    half = (hi - lo) / 2
    body = abdomen.body.scaled_to_contain(half[0] + 5.0, 2 * half[1] - _SPINE_Y + 6.0)
    centre[2] = np.clip(centre[2], half[2] + 5.0, 480.0 - half[2])
    a, b_ant, _ = body.cavity_axes_at(float(centre[2]))
    centre[0] = np.clip(centre[0], -a + 3.0 - lo[0], a - 3.0 - hi[0])
    centre[1] = np.clip(centre[1], -b_ant + 3.0 - lo[1], _SPINE_Y - 3.0 - hi[1])
    placed = Tumour(centre, shape.axes, shape.angle, shape.bumps, shape.amplitudes)
    return placed, Abdomen(abdomen.shapes, body, abdomen.anchors), np.stack([lo, hi])


def _interp_matrix(coarse: np.ndarray, fine: np.ndarray) -> np.ndarray:
    """(len(fine), len(coarse)) linear-interpolation weights."""
    eye = np.eye(coarse.size)
    return np.stack([np.interp(fine, coarse, eye[j]) for j in range(coarse.size)], axis=1)


def _smooth_field(
    rng: np.random.Generator, axes_mm: tuple[np.ndarray, ...], cell_mm: float = 3.0
) -> np.ndarray:
    """Correlated noise (SD ≈ 1, correlation length ≈ 2 × ``cell_mm``) at the grid given
    by the coordinate vectors ``axes_mm`` (z, y, x), by separable linear upsampling."""
    coarse = [np.arange(ax[0] - cell_mm, ax[-1] + 2 * cell_mm, cell_mm) for ax in axes_mm]
    field = ndimage.gaussian_filter(rng.standard_normal([c.size for c in coarse]), 1.0)
    field /= field.std() + 1e-9
    wz, wy, wx = (_interp_matrix(c, f) for c, f in zip(coarse, axes_mm, strict=True))
    field = field @ wx.T  # (z, y, cols)
    field = np.einsum("jy,zyx->zjx", wy, field)
    return np.tensordot(wz, field, axes=(1, 0)).astype(np.float32)


def grained_texture(
    reference: np.ndarray,
    rng: np.random.Generator,
    axes_mm: tuple[np.ndarray, ...],
    trait_z: float,
    inside: np.ndarray | None = None,
) -> np.ndarray:
    """The tumour's texture with the grain of prognostic trait ``trait_z``, at the SD of
    ``reference``.

    A field of :func:`_smooth_field` with cell
    :func:`~gistcad.synth.prognostic_trait.grain_cell_mm` (coarser grain for a larger
    ``trait_z``), drawn from the trait's child stream of ``rng`` (so that ``rng``'s later
    draws are those of a tumour without the trait), rescaled to the SD of ``reference``
    (the 3 mm field the renderer drew before the trait, shape (z, y, x) of ``axes_mm``):
    first-order statistics of the texture do not change with the trait, only its spatial
    correlation does (what GLCM, GLRLM and GLSZM features measure). Its amplitude in HU is
    set by the caller (:func:`texture_sd_hu`).

    With ``inside`` (the tumour's voxels in the field's box, bool of the same shape) the field
    is centred and scaled over those voxels: a 12 mm grain leaves few independent grains in a
    tumour, whose own mean and SD would otherwise wander with the grain (a coarser grain gave
    a 5 cm tumour a texture SD up to a quarter lower, and its solid HU a wider spread), so that
    the tumour's first-order statistics would see the trait after all.
    """
    cell = grain_cell_mm(trait_z, DEFAULT_PARAMS)
    field = _smooth_field(trait_rng(rng), axes_mm, cell)
    region = field[inside] if inside is not None and int(inside.sum()) >= 8 else field
    centre = float(region.mean()) if region is not field else 0.0
    scale = float(reference.std()) / (float(region.std()) + 1e-9)
    return ((field - np.float32(centre)) * np.float32(scale)).astype(np.float32)


def texture_sd_hu(heterogeneity: float, *, primary: bool) -> float:
    """SD (HU) of the tumour's texture: 22 × ``heterogeneity``, and for a ``primary`` tumour
    (one with the prognostic trait) at least
    :attr:`~gistcad.synth.params.PrognosticTraitParams.grain_floor_hu`, combined as
    ``hypot(22 × heterogeneity, floor)`` so that the heterogeneity still raises it.

    Without the floor a tumour of low heterogeneity has a texture below the scanner's noise
    and its grain, the trait, is invisible (see ``PrognosticTraitParams``).
    """
    amplitude = 22.0 * float(heterogeneity)
    if not primary:
        return amplitude
    return float(np.hypot(amplitude, DEFAULT_PARAMS.trait.grain_floor_hu))


def _tumour_fraction(
    tumour: Tumour,
    grid: Grid,
    z_centres: np.ndarray,
    thickness: float,
    window: tuple[slice, slice, slice],
    calc: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tumour and calcification cover fractions and mean rho over each voxel of ``window``.

    Sub-planes at ≤ 1 mm (or size / 40 for giant tumours) average the tumour along z
    inside each slab; ``calc`` is (n, 4): centre (mm) and radius of each calcified focus.
    """
    ks, js, is_ = window
    sub_step = max(1.0, float(np.max(tumour.axes)) / 20.0)
    n_sub = max(1, int(np.ceil(thickness / sub_step)))
    offsets = ((np.arange(n_sub) + 0.5) / n_sub - 0.5) * thickness
    dz = (z_centres[ks][:, None] + offsets[None, :] - tumour.centre[2]).astype(np.float32)
    dy = (grid.y[js] - tumour.centre[1])[:, None]
    dx = (grid.x[is_] - tumour.centre[0])[None, :]
    shape = (dz.shape[0], dy.shape[0], dx.shape[1])
    frac, fcalc, rho_mean = (np.zeros(shape, np.float32) for _ in range(3))
    for k in range(dz.shape[0]):
        for z in dz[k]:
            rho = tumour.rho(dx, dy, z)
            frac[k] += rho <= 1.0
            rho_mean[k] += np.minimum(rho, 1.5)
            calcified = np.zeros(shape[1:], dtype=bool)  # the union: overlapping foci count once
            for cx, cy, cz, r in calc:
                d2 = (dx + tumour.centre[0] - cx) ** 2 + (dy + tumour.centre[1] - cy) ** 2
                calcified |= d2 + (z + tumour.centre[2] - cz) ** 2 <= r * r
            fcalc[k] += calcified & (rho <= 1.0)
    return frac / n_sub, fcalc / n_sub, rho_mean / n_sub


def paint_tumour(
    volume: np.ndarray,
    tumour: Tumour,
    grid: Grid,
    z_centres: np.ndarray,
    thickness: float,
    record: Mapping[str, Any],
    center: CenterProfile,
    rng: np.random.Generator,
) -> np.ndarray:
    """Blend the tumour into ``volume`` (float32, in place); returns the mask.

    ``volume`` is (slices, rows, cols) on axial slabs of ``thickness`` mm centred at the
    ascending ``z_centres`` (anatomical mm) over the in-plane ``grid``. A ``record`` with
    ``prognostic_trait_z`` gets that trait's texture grain (:func:`grained_texture`) and the
    texture floor of :func:`texture_sd_hu`; one without (a liver metastasis) keeps the 3 mm
    texture of SD 22 × heterogeneity.
    """
    surface = tumour.surface(_fibonacci_sphere(400)) + tumour.centre
    lo, hi = surface.min(axis=0) - 1.0, surface.max(axis=0) + 1.0
    half_t = 0.5 * thickness
    ks = slice(*_index_span(z_centres, lo[2] - half_t, hi[2] + half_t))
    js = slice(*_index_span(grid.y, lo[1], hi[1]))
    is_ = slice(*_index_span(grid.x, lo[0], hi[0]))
    n_calc = int(rng.integers(2, 6)) if bool(record.get("calcification", False)) else 0
    directions = _fibonacci_sphere(97)[rng.choice(97, size=n_calc, replace=False)]
    depth = rng.uniform(0.2, 0.75, size=(n_calc, 1))
    calc = np.column_stack(
        [tumour.centre + depth * tumour.surface(directions), rng.uniform(2.0, 3.5, size=n_calc)]
    )
    frac, fcalc, rho = _tumour_fraction(tumour, grid, z_centres, thickness, (ks, js, is_), calc)
    mask = np.zeros(volume.shape, dtype=bool)
    mask[ks, js, is_] = frac >= 0.5
    axes_mm = (z_centres[ks], grid.y[js], grid.x[is_])
    texture, irregular = _smooth_field(rng, axes_mm), _smooth_field(rng, axes_mm, 4.0)
    if "prognostic_trait_z" in record:  # a primary tumour of the cohort (not a metastasis)
        texture = grained_texture(
            texture, rng, axes_mm, float(record["prognostic_trait_z"]), mask[ks, js, is_]
        )
    solid = float(record["enhancement_hu"]) * center.hu_scale
    amplitude = texture_sd_hu(
        float(record.get("heterogeneity", 0.0)), primary="prognostic_trait_z" in record
    )
    tissue = solid + amplitude * texture
    necrosis = float(np.clip(record.get("necrosis_fraction", 0.0), 0.0, 0.95))
    if necrosis > 0.005 and mask[ks, js, is_].any():
        core = rho + 0.12 * irregular
        threshold = np.quantile(core[mask[ks, js, is_]], necrosis)
        weight = np.clip((threshold - core) / 0.04 + 0.5, 0.0, 1.0)
        necrotic_hu = float(np.clip(rng.normal(20.0, 8.0), 0.0, 40.0)) + 4.0 * texture
        tissue += weight * (necrotic_hu - tissue)
    calc_hu = float(rng.uniform(700.0, CALCIFIED_MAX_HU))
    region = volume[ks, js, is_]
    region *= 1.0 - frac
    region += (frac - fcalc) * tissue + fcalc * np.float32(calc_hu)
    covered = frac > 0
    region[covered] = np.minimum(region[covered], np.float32(CALCIFIED_MAX_HU))
    return mask


def _index_span(coords: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Indices [i0, i1) of the ascending ``coords`` within [lo, hi]."""
    return int(np.searchsorted(coords, lo)), int(np.searchsorted(coords, hi, side="right"))
