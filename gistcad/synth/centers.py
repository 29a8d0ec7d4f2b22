"""The centers of the synthetic consortium: scanner, case mix and export habits.

Real multi-center data differ by center in three ways that models and importers must
survive, and each :class:`CenterProfile` sets all three:

- **scanner**: vendor, slice thickness (1–5 mm), in-plane pixel spacing, tube voltage with
  its HU shift, noise, contrast timing (``gist_facts.md`` section 8: kVp 100 vs 120 shifts
  HU by ±10–15 %, reconstruction noise SD 8–20 HU, portal-venous timing jitter ±10 s);
- **case mix**: share of the cohort and a tilt of the site distribution (section 1.2:
  ±5–10 points per center; Asian tertiary centers are more gastric-heavy);
- **export habits**: how masks arrive (DICOM SEG, RTSTRUCT, NIfTI) and how the clinical table
  arrives (CSV, CSV with ``;`` and decimal commas, CSV with other column names, ``.xlsx``).

The defaults below are engineering choices [D], not data of any real hospital.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gistcad.errors import ValidationError


class MaskFormat(StrEnum):
    DICOM_SEG = "dicom_seg"
    RTSTRUCT = "rtstruct"
    NIFTI = "nifti"


class TableFormat(StrEnum):
    CSV = "csv"  # comma, decimal point, canonical column names
    CSV_SEMICOLON = "csv_semicolon"  # ';' separator and decimal commas (European locale)
    CSV_ALIASES = "csv_aliases"  # other column names and genotype spellings (documented aliases)
    XLSX = "xlsx"


@dataclass(frozen=True)
class CenterProfile:
    """One synthetic center.

    Attributes
    ----------
    name, country
        Display name and country of the center.
    weight
        Relative share of the cohort (normalised over the centers in use).
    gastric_shift
        Added to the stomach share of the site distribution (taken from small bowel),
        e.g. +0.08 for a gastric-heavy center.
    vendor, model_name
        DICOM Manufacturer and ManufacturerModelName.
    slice_thickness_mm
        Reconstructed slice thickness = slice spacing, mm.
    pixel_spacing_512_mm
        In-plane pixel spacing at a 512 matrix, mm (field of view = 512 × spacing); at another
        matrix the field of view is kept and the spacing scaled.
    kvp
        Tube voltage, kV.
    hu_scale
        Multiplier of iodine-enhanced HU above water relative to 120 kVp (lower kVp → higher).
    noise_sd_hu
        Standard deviation of reconstruction noise, HU.
    contrast_delay_s
        Scan delay after injection, s (portal-venous ≈ 60–75 s).
    mask_format, table_format
        How the center exports masks and its clinical table.
    """

    name: str
    country: str
    weight: float
    gastric_shift: float
    vendor: str
    model_name: str
    slice_thickness_mm: float
    pixel_spacing_512_mm: float
    kvp: float
    hu_scale: float
    noise_sd_hu: float
    contrast_delay_s: float
    mask_format: MaskFormat
    table_format: TableFormat

    def pixel_spacing_mm(self, matrix: int) -> float:
        """In-plane spacing at ``matrix`` pixels, keeping this center's field of view."""
        return self.pixel_spacing_512_mm * 512 / matrix

    def field_of_view_mm(self) -> float:
        return self.pixel_spacing_512_mm * 512


DEFAULT_CENTERS: tuple[CenterProfile, ...] = (
    CenterProfile(
        name="Rotterdam",
        country="NL",
        weight=0.26,
        gastric_shift=0.0,
        vendor="SIEMENS",
        model_name="SOMATOM Force",
        slice_thickness_mm=1.0,
        pixel_spacing_512_mm=0.78,
        kvp=100,
        hu_scale=1.12,
        noise_sd_hu=12.0,
        contrast_delay_s=70,
        mask_format=MaskFormat.DICOM_SEG,
        table_format=TableFormat.CSV,
    ),
    CenterProfile(
        name="Lyon",
        country="FR",
        weight=0.20,
        gastric_shift=-0.04,
        vendor="GE MEDICAL SYSTEMS",
        model_name="Revolution CT",
        slice_thickness_mm=2.5,
        pixel_spacing_512_mm=0.74,
        kvp=120,
        hu_scale=1.0,
        noise_sd_hu=10.0,
        contrast_delay_s=65,
        mask_format=MaskFormat.NIFTI,
        table_format=TableFormat.CSV_SEMICOLON,
    ),
    CenterProfile(
        name="Warsaw",
        country="PL",
        weight=0.16,
        gastric_shift=0.02,
        vendor="Philips",
        model_name="iCT 256",
        slice_thickness_mm=5.0,
        pixel_spacing_512_mm=0.82,
        kvp=120,
        hu_scale=1.0,
        noise_sd_hu=18.0,
        contrast_delay_s=75,
        mask_format=MaskFormat.RTSTRUCT,
        table_format=TableFormat.XLSX,
    ),
    CenterProfile(
        name="Seoul",
        country="KR",
        weight=0.18,
        gastric_shift=0.08,
        vendor="TOSHIBA",
        model_name="Aquilion ONE",
        slice_thickness_mm=3.0,
        pixel_spacing_512_mm=0.70,
        kvp=100,
        hu_scale=1.15,
        noise_sd_hu=14.0,
        contrast_delay_s=60,
        mask_format=MaskFormat.DICOM_SEG,
        table_format=TableFormat.CSV_ALIASES,
    ),
    CenterProfile(
        name="Boston",
        country="US",
        weight=0.12,
        gastric_shift=-0.06,
        vendor="SIEMENS",
        model_name="SOMATOM Definition AS+",
        slice_thickness_mm=2.0,
        pixel_spacing_512_mm=0.76,
        kvp=120,
        hu_scale=1.0,
        noise_sd_hu=9.0,
        contrast_delay_s=70,
        mask_format=MaskFormat.NIFTI,
        table_format=TableFormat.CSV,
    ),
    CenterProfile(
        name="Milan",
        country="IT",
        weight=0.08,
        gastric_shift=0.0,
        vendor="GE MEDICAL SYSTEMS",
        model_name="LightSpeed VCT",
        slice_thickness_mm=5.0,
        pixel_spacing_512_mm=0.86,
        kvp=140,
        hu_scale=0.9,
        noise_sd_hu=20.0,
        contrast_delay_s=80,
        mask_format=MaskFormat.NIFTI,
        table_format=TableFormat.CSV_SEMICOLON,
    ),
)


def default_centers(count: int) -> tuple[CenterProfile, ...]:
    """The first ``count`` default centers (1–6)."""
    if not 1 <= count <= len(DEFAULT_CENTERS):
        raise ValidationError(
            f"--centers must be between 1 and {len(DEFAULT_CENTERS)} (got {count})"
        )
    return DEFAULT_CENTERS[:count]
