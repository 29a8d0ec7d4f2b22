"""The synthetic portal-venous abdominal CT of one patient: HU volume and tumour mask.

:func:`render_ct` turns one clinical row (site, sub-site, size and the latent imaging
phenotype) and a :class:`~gistcad.synth.centers.CenterProfile` into a :class:`RenderedCT`.

Geometry (LPS patient coordinates, mm): x to the patient's left, y posterior, z superior.
Array axes are (slice, row, column) = (z, y, x): ``hu[k, j, i]`` is the voxel centred at
``origin_mm + (i · col_spacing, j · row_spacing, k · slice_thickness)``. Slices go from
inferior to superior (increasing z), image orientation is (1, 0, 0, 0, 1, 0), so the slice
normal is +z and a DICOM reader that sorts slices by position along the normal rebuilds the
array. Slice spacing equals slice thickness (contiguous reconstruction).

The scan covers ``scan_length_mm`` (default 200 mm, a limited abdominal range around the
lesion; longer when the tumour needs it) placed at random so that the tumour lies inside.
The field of view is the center's (512 × its pixel spacing, 358–440 mm) unless body, tumour
and table need more, in which case it is enlarged as a technologist would.

Scanner effects: enhancement × ``hu_scale`` (kVp), contrast timing (``contrast_delay_s``),
partial-volume averaging over the slice thickness (exact for anatomy, ≤ 1 mm sub-planes for
the tumour) and noise of SD ``noise_sd_hu``: a 2 × 2 box sum of uniform noise, i.e.
Irwin–Hall(4), close to Gaussian and correlated 0.5 between neighbouring pixels, as
reconstructed CT noise is [D]. The tumour's shape and HU are those of
:mod:`~gistcad.synth.tumour`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gistcad.errors import ValidationError
from gistcad.synth.anatomy import Abdomen, Anchor, build_abdomen
from gistcad.synth.centers import CenterProfile
from gistcad.synth.shapes import Ellipsoid, Grid, render_slices
from gistcad.synth.tissues import Tissues
from gistcad.synth.tumour import Tumour, draw_tumour, paint_tumour, place_tumour

logger = logging.getLogger(__name__)

HU_MIN, HU_MAX = -1024, 3071
_ANCHOR_OF_SUB_SITE = {
    "fundus": "fundus",
    "body": "body",
    "antrum": "antrum",
    "stomach": "body",
    "duodenum": "duodenum",
    "jejunum": "jejunum",
    "ileum": "ileum",
    "jejunum_ileum": "jejunum",
    "colon": "colon",
    "rectum": "rectum",
    "oesophagus": "oesophagus",
    "esophagus": "oesophagus",
    "mesentery": "mesentery",
    "omentum": "omentum",
    "egist": "mesentery",
    "other": "mesentery",
}
_ANCHOR_OF_SITE = {
    "stomach": "body",
    "duodenum": "duodenum",
    "jejunum_ileum": "jejunum",
    "colon": "colon",
    "rectum": "rectum",
    "oesophagus": "oesophagus",
    "other": "mesentery",
}


@dataclass(frozen=True)
class LiverLesion:
    """A round liver metastasis: diameter (mm), enhancement (HU above water) and its
    centre's offset from the centre of the liver (LPS mm)."""

    diameter_mm: float
    enhancement_hu: float
    offset_mm: tuple[float, float, float]


def _liver_tumour(lesion: LiverLesion, abdomen: Abdomen, tissues: Tissues) -> Tumour:
    liver = next(s for s in abdomen.shapes if isinstance(s, Ellipsoid) and s.hu == tissues.liver)
    centre = np.asarray(liver.centre, dtype=float) + np.asarray(lesion.offset_mm, dtype=float)
    radius = 0.5 * float(lesion.diameter_mm)
    return Tumour(centre, np.full(3, radius), 0.0, np.zeros((0, 3)), np.zeros(0))


@dataclass(frozen=True)
class RenderedCT:
    """A CT volume in HU and its tumour mask on the same grid (see the module docstring).

    Attributes
    ----------
    hu
        int16 (slices, rows, cols), HU, clipped to [−1024, 3071].
    tumour_mask
        bool (slices, rows, cols): voxels at least half covered by tumour (necrosis and
        calcification included).
    pixel_spacing_mm
        (row spacing, column spacing), mm, as DICOM PixelSpacing.
    slice_thickness_mm
        Slice thickness = spacing between slice centres, mm.
    origin_mm
        LPS position (x, y, z) of the centre of voxel [0, 0, 0], mm.
    orientation
        DICOM ImageOrientationPatient: row direction then column direction.
    tumour_centre_mm
        LPS centre of the tumour's ellipsoid, mm.
    field_of_view_mm
        Reconstruction field of view (columns × column spacing), mm.
    pelvic_floor_z_mm
        LPS z of the phantom's anatomical origin (pelvic floor; lung bases ≈ +480 mm above),
        mm: tells where along the body a slice lies, e.g. for checks and the oracle.
    lesion_masks
        bool masks of the liver lesions asked for (``liver_lesions`` of :func:`render_ct`),
        in that order; empty for a CT with the primary tumour only.
    """

    hu: np.ndarray
    tumour_mask: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    slice_thickness_mm: float
    origin_mm: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    tumour_centre_mm: tuple[float, float, float]
    field_of_view_mm: float
    pelvic_floor_z_mm: float
    lesion_masks: tuple[np.ndarray, ...] = ()

    @property
    def affine_lps(self) -> np.ndarray:
        """4 × 4 map from (column i, row j, slice k, 1) to LPS (x, y, z, 1), mm."""
        affine = np.diag(
            [self.pixel_spacing_mm[1], self.pixel_spacing_mm[0], self.slice_thickness_mm, 1.0]
        )
        affine[:3, 3] = self.origin_mm
        return affine

    def slice_position_mm(self, k: int) -> tuple[float, float, float]:
        """DICOM ImagePositionPatient of slice ``k`` (its first voxel centre), mm."""
        x, y, z = self.origin_mm
        return x, y, round(z + k * self.slice_thickness_mm, 4)


def _anchor(record: Mapping[str, Any], abdomen: Abdomen) -> Anchor:
    sub_site = str(record.get("sub_site") or "").strip().lower().replace(" ", "_")
    key = _ANCHOR_OF_SUB_SITE.get(sub_site) or _ANCHOR_OF_SITE.get(str(record["site"]))
    if key is None:
        raise ValidationError(
            f"record {record.get('hospital_id', '?')}: unknown site {record['site']!r} / "
            f"sub_site {sub_site!r}; use a gistcad.domain.Site value"
        )
    return abdomen.anchors[key]


@dataclass(frozen=True)
class _Scan:
    """Scan geometry in anatomical z: slice centres (mm), thickness, in-plane grid."""

    z_centres: np.ndarray
    thickness: float
    grid: Grid
    fov: float
    first_mm: float  # x = y of the first pixel centre, mm (float64)


def _plan_scan(
    center: CenterProfile,
    matrix: int,
    abdomen: Abdomen,
    zspan: tuple[float, float],
    scan_length_mm: float,
    rng: np.random.Generator,
) -> _Scan:
    """Slices covering ``zspan`` (mm) at a random offset; the FOV fits body and table."""
    thickness = float(center.slice_thickness_mm)
    length = max(scan_length_mm, zspan[1] - zspan[0] + 30.0)
    n_slices = max(1, round(length / thickness))
    length = n_slices * thickness
    lo, hi = max(zspan[1] + 10.0 - length, -10.0), min(zspan[0] - 10.0, 530.0 - length)
    start = rng.uniform(lo, hi) if hi > lo else 0.5 * (zspan[0] + zspan[1] - length)
    start = round(start * 2) / 2  # a 0.5 mm grid keeps positions exact decimals
    z_centres = start + (np.arange(n_slices) + 0.5) * thickness
    body = abdomen.body
    half_width = max(body.half_width)
    posterior = max(body.half_ap_posterior) + 22.0  # table
    needed = 2 * max(half_width, max(body.half_ap_anterior), posterior) + 10.0
    spacing = center.pixel_spacing_mm(matrix)
    if spacing * matrix < needed:  # enlarged FOV: a spacing in whole 0.01 mm
        spacing = float(np.ceil(needed / matrix * 100.0) / 100.0)
    coords = (-0.5 * matrix + 0.5 + np.arange(matrix)) * spacing
    grid = Grid(coords.astype(np.float32), coords.astype(np.float32), spacing)
    return _Scan(z_centres, thickness, grid, spacing * matrix, float(coords[0]))


def _add_noise(volume: np.ndarray, sd_hu: float, rng: np.random.Generator) -> None:
    """Add Irwin–Hall(4) noise of SD ``sd_hu``: the 2 × 2 box sum of uniform int8 noise."""
    s, r, c = volume.shape
    u = np.frombuffer(rng.bytes(s * (r + 1) * (c + 1)), dtype=np.int8).reshape(s, r + 1, c + 1)
    total = u[:, 1:, 1:].astype(np.int16)
    total += u[:, :-1, 1:]
    total += u[:, 1:, :-1]
    total += u[:, :-1, :-1]
    sd_sum = np.sqrt(4 * (256.0**2 - 1) / 12.0)
    volume += total.astype(np.float32) * np.float32(sd_hu / sd_sum)


def _validate(record: Mapping[str, Any], matrix: int, scan_length_mm: float) -> None:
    where = f"record {record.get('hospital_id', '?')}"
    missing = [k for k in ("site", "size_cm", "enhancement_hu") if k not in record]
    if missing:
        raise ValidationError(f"{where}: missing {', '.join(missing)} needed to render its CT")
    if not 0.1 <= float(record["size_cm"]) <= 60.0:
        raise ValidationError(f"{where}: size_cm {record['size_cm']} outside 0.1–60 cm")
    if not 32 <= matrix <= 1024:
        raise ValidationError(f"matrix must be 32–1024 pixels (got {matrix})")
    if not 10.0 <= scan_length_mm <= 1000.0:
        raise ValidationError(f"scan_length_mm must be 10–1000 mm (got {scan_length_mm})")


def render_ct(
    record: Mapping[str, Any],
    center: CenterProfile,
    *,
    matrix: int,
    rng: np.random.Generator,
    scan_length_mm: float = 200.0,
    liver_lesions: Sequence[LiverLesion] = (),
) -> RenderedCT:
    """Render the portal-venous abdominal CT of one patient and its tumour mask.

    Parameters
    ----------
    record
        Clinical row: ``site``, ``sub_site``, ``sex``, ``size_cm`` (largest diameter, cm),
        ``enhancement_hu`` (HU above water at 120 kVp), ``heterogeneity`` (0–1),
        ``necrosis_fraction`` (0–0.8), ``lobulation`` (0–1), ``exophytic``, ``calcification``.
    center
        Scanner: slice thickness, pixel spacing, ``hu_scale``, noise, contrast delay.
    matrix
        Rows = columns of each slice (256 demo, 512 clinical).
    rng
        The only source of randomness.
    scan_length_mm
        Cranio-caudal coverage, mm; extended to the tumour's extent + 30 mm when larger.
    liver_lesions
        Metastases painted into the liver after the primary (follow-up CTs); the scan is
        extended to cover them. None (the default) leaves every random draw as it was.

    Returns
    -------
    RenderedCT
        HU volume (slices, rows, cols) with its mask and LPS geometry.
    """
    _validate(record, matrix, scan_length_mm)
    tissues = Tissues(hu_scale=center.hu_scale, delay_s=center.contrast_delay_s)
    abdomen = build_abdomen(rng, tissues, female=str(record.get("sex", "")).lower() == "female")
    shape = draw_tumour(10.0 * float(record["size_cm"]), float(record.get("lobulation", 0.3)), rng)
    tumour, abdomen, bounds = place_tumour(
        shape, _anchor(record, abdomen), bool(record.get("exophytic", False)), abdomen
    )
    zspan = (tumour.centre[2] + bounds[0, 2], tumour.centre[2] + bounds[1, 2])
    metastases = [_liver_tumour(lesion, abdomen, tissues) for lesion in liver_lesions]
    for meta in metastases:
        radius = float(meta.axes.max())
        zspan = (min(zspan[0], meta.centre[2] - radius), max(zspan[1], meta.centre[2] + radius))
    scan = _plan_scan(center, matrix, abdomen, zspan, scan_length_mm, rng)
    volume = render_slices(
        abdomen.shapes, abdomen.body, tissues, scan.grid, scan.z_centres, scan.thickness
    )
    mask = paint_tumour(
        volume, tumour, scan.grid, scan.z_centres, scan.thickness, record, center, rng
    )
    lesion_masks = tuple(
        paint_tumour(
            volume,
            meta,
            scan.grid,
            scan.z_centres,
            scan.thickness,
            {"enhancement_hu": lesion.enhancement_hu, "heterogeneity": 0.2},
            center,
            rng,
        )
        for meta, lesion in zip(metastases, liver_lesions, strict=True)
    )
    _add_noise(volume, center.noise_sd_hu, rng)
    np.rint(volume, out=volume)
    np.maximum(volume, np.float32(HU_MIN), out=volume)
    hu = np.minimum(volume, np.float32(HU_MAX), out=volume).astype(np.int16)
    z_shift = -float(rng.integers(350, 650))  # table position: anatomical → scanner z
    spacing = scan.grid.spacing
    origin = (scan.first_mm, scan.first_mm, round(float(scan.z_centres[0]) + z_shift, 4))
    centre = (float(tumour.centre[0]), float(tumour.centre[1]), float(tumour.centre[2]) + z_shift)
    logger.debug("rendered %s slices × %s² for %s", hu.shape[0], matrix, record.get("hospital_id"))
    return RenderedCT(
        hu,
        mask,
        (spacing, spacing),
        scan.thickness,
        origin,
        (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
        centre,
        scan.fov,
        z_shift,
        lesion_masks,
    )
