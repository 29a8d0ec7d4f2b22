"""Reading images: DICOM series, SEG/RTSTRUCT masks, NIfTI and zip exports; pure I/O + arrays.

Everything returns a :class:`Volume` (array + RAS+ affine, see :mod:`gistcad.imaging.volume`)
or a frozen dataclass; nothing here touches the database. Problems are reported as
:class:`gistcad.problems.Problem` with the file and the DICOM tag.
"""

from gistcad.imaging.archive import safe_extract
from gistcad.imaging.deid import IDENTIFYING_KEYWORDS, SeriesInfo, patient_key, series_info
from gistcad.imaging.dicom_masks import LabelMask, MaskReading, read_masks
from gistcad.imaging.dicom_series import DicomScan, DicomSeries, MaskObject, load_series, scan_dicom
from gistcad.imaging.errors import ArchiveError, GeometryMismatchError, ImagingError
from gistcad.imaging.nifti_io import read_mask, read_nifti, sha256_file, write_canonical
from gistcad.imaging.volume import Volume, describe_geometry, geometry_mismatch

__all__ = [
    "IDENTIFYING_KEYWORDS",
    "ArchiveError",
    "DicomScan",
    "DicomSeries",
    "GeometryMismatchError",
    "ImagingError",
    "LabelMask",
    "MaskObject",
    "MaskReading",
    "SeriesInfo",
    "Volume",
    "describe_geometry",
    "geometry_mismatch",
    "load_series",
    "patient_key",
    "read_mask",
    "read_masks",
    "read_nifti",
    "safe_extract",
    "scan_dicom",
    "series_info",
    "sha256_file",
    "write_canonical",
]
