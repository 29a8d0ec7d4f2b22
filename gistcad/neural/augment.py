"""Training-time augmentation that stays within what CT of a GIST can look like.

Applied to a batch of crops (N, 2, D, H, W) with axes (R, A, S) as :mod:`gistcad.neural.crop`
makes them, with torch operations and a numpy ``Generator`` as the only randomness.

- **Rotation** about the craniocaudal (S) axis, uniform in ±10°: patients lie supine but not
  exactly square to the table, and the stomach and bowel turn about that axis. No tilt about
  R or A: CT slices are axial, and tilting would smear the thick-slice blur across the plane.
- **Translation** uniform in ±5 % of the field along each axis: the mask's bounding box centres
  the crop, and a different reader's mask moves that centre by a few millimetres.
- **No flips by default.** Craniocaudal: never (gravity, feeding vessels, the thick-slice blur
  run along it; :class:`AugmentSettings` does not offer it). Anterior–posterior: the patient lies on
  the table and exophytic growth points into the peritoneal cavity, so a mirrored crop is not
  anatomy. Left–right: mirrors the lateral context (the stomach lies left, the duodenum and
  liver right), and the site is one of the strongest genotype cues (PDGFRA is gastric, KIT
  exon 9 intestinal); ``flip_left_right=True`` is allowed for experiments that crop tightly.
- **Intensity**: HU scale uniform in ±10 % (tube voltage and contrast timing change iodine
  enhancement) and shift uniform in ±15 HU (calibration), applied after windowing through the
  exact identity ``w(a·HU + b) = a·w(HU) + ((a − 1)·low + b) / (high − low)`` — exact except for
  voxels already clipped by the window. Only the image channel; the mask is untouched.
  These are :class:`AugmentSettings`' defaults; the deep model of
  :mod:`gistcad.modelling.dl_model` turns the intensity jitter off, because the genotype shows
  in the tumour's enhancement by about as many HU as the jitter moves it.

**Test-time views** (:func:`view_thetas`, :func:`view_batch`): the deep model may average its
prediction over the crop as it is and a few fixed rotations and shifts drawn from the same
ranges. Rotation and translation only: no intensity jitter (the genotype shows in the HU) and
no mirror, for the reasons above — a mirrored crop is not anatomy the network was trained on,
and the left–right side carries the site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gistcad.errors import ValidationError


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random transforms; each draw is uniform in ±the value."""

    max_rotation_deg: float = 10.0
    max_translation_fraction: float = 0.05
    hu_scale: float = 0.10
    hu_shift: float = 15.0
    hu_window: tuple[float, float] = (-160.0, 240.0)  # must equal the crops' window
    flip_left_right: bool = False

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_rotation_deg <= 30.0:
            raise ValidationError(
                f"max_rotation_deg must be 0–30°, got {self.max_rotation_deg}; larger turns "
                "are not a patient's position on the table"
            )
        if not 0.0 <= self.max_translation_fraction <= 0.25:
            raise ValidationError("max_translation_fraction must be 0–0.25 of the field")
        if not 0.0 <= self.hu_scale < 1.0 or self.hu_shift < 0.0:
            raise ValidationError("hu_scale must be in [0, 1) and hu_shift >= 0")


def affine_thetas(n: int, settings: AugmentSettings, rng: np.random.Generator) -> torch.Tensor:
    """Random (n, 3, 4) matrices for :func:`torch.nn.functional.affine_grid`.

    ``affine_grid`` coordinates are ordered (x, y, z) = (W, H, D) = (S, A, R): the rotation
    about S turns components 1 and 2; translations are in the normalised [−1, 1] field.
    """
    angles = np.deg2rad(rng.uniform(-settings.max_rotation_deg, settings.max_rotation_deg, n))
    shifts = rng.uniform(-1.0, 1.0, (n, 3)) * 2.0 * settings.max_translation_fraction
    theta = np.zeros((n, 3, 4))
    theta[:, 0, 0] = 1.0
    cos, sin = np.cos(angles), np.sin(angles)
    theta[:, 1, 1], theta[:, 1, 2] = cos, -sin
    theta[:, 2, 1], theta[:, 2, 2] = sin, cos
    theta[:, :, 3] = shifts
    return torch.as_tensor(theta, dtype=torch.float32)


def _warp(batch: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """``batch`` (N, 2, D, H, W) resampled through ``theta`` (N, 3, 4): trilinear, the border
    repeated where the field leaves the crop."""
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode="bilinear", padding_mode="border", align_corners=False)


def view_thetas(n_views: int, settings: AugmentSettings, seed: int = 0) -> torch.Tensor:
    """``n_views`` fixed (n_views, 3, 4) transforms for test-time augmentation.

    Drawn like the training augmentation's rotations and translations
    (:func:`affine_thetas`) from a generator of its own seeded with ``seed``: the same views
    on every call, so that predictions are reproducible, and the same for every crop, so
    that a case's prediction does not depend on the other cases predicted with it.
    """
    if n_views < 0:
        raise ValidationError(f"the number of test-time views must be >= 0, got {n_views}")
    return affine_thetas(n_views, settings, np.random.default_rng(seed))


def view_batch(batch: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Every crop of ``batch`` (N, 2, D, H, W) seen through one transform ``theta`` (3, 4)
    (a test-time view): rotated and shifted, both channels kept in [0, 1]; no intensity
    change and no mirror (see the module docstring)."""
    if batch.ndim != 5 or batch.shape[1] != 2:
        raise ValidationError(f"view_batch needs (N, 2, D, H, W), got {tuple(batch.shape)}")
    thetas = theta.to(batch).reshape(1, 3, 4).expand(batch.shape[0], 3, 4)
    return _warp(batch, thetas).clamp(0.0, 1.0)


def jitter_windowed(
    image: torch.Tensor,
    scale: torch.Tensor,
    shift_hu: torch.Tensor,
    hu_window: tuple[float, float],
) -> torch.Tensor:
    """Windowed image (N, ...) of ``scale · HU + shift_hu`` per sample (see module docstring)."""
    low, high = hu_window
    shape = (-1,) + (1,) * (image.ndim - 1)
    a = scale.reshape(shape).to(image)
    b = shift_hu.reshape(shape).to(image)
    return torch.clamp(a * image + ((a - 1.0) * low + b) / (high - low), 0.0, 1.0)


def augment_batch(
    batch: torch.Tensor, settings: AugmentSettings, rng: np.random.Generator
) -> torch.Tensor:
    """A randomly transformed copy of ``batch`` (N, 2, D, H, W); the input is not changed."""
    if batch.ndim != 5 or batch.shape[1] != 2:
        raise ValidationError(f"augment_batch needs (N, 2, D, H, W), got {tuple(batch.shape)}")
    n = batch.shape[0]
    moved = _warp(batch, affine_thetas(n, settings, rng).to(batch.device))
    scale = torch.as_tensor(1.0 + rng.uniform(-settings.hu_scale, settings.hu_scale, n))
    shift = torch.as_tensor(rng.uniform(-settings.hu_shift, settings.hu_shift, n))
    image = jitter_windowed(moved[:, :1], scale, shift, settings.hu_window)
    out = torch.cat([image, moved[:, 1:].clamp(0.0, 1.0)], dim=1)
    if settings.flip_left_right:
        flip = torch.as_tensor(rng.random(n) < 0.5, device=batch.device)
        out = torch.where(flip.reshape(-1, 1, 1, 1, 1), out.flip(2), out)
    return out
