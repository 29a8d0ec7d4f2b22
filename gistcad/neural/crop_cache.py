"""A folder of finished crops, keyed by what they were made from.

Key: the image's sha256, the mask's sha256 and :meth:`CropSettings.key` — a different scan,
segmentation or setting is a different file. Each crop is one ``.npz`` (uncompressed: a zip of
``.npy`` arrays: ``array``, ``affine``, ``spacing_mm``, ``tumour_extent_mm``) under
``root/<first two hex digits of the image sha>/``. Writers write to a temporary file in the
same folder and rename it into place, so concurrent writers of the same key never leave half a
file (the last rename wins; both wrote the same crop) and a reader sees the old file or the
new one. An unreadable file is treated as a miss and replaced.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gistcad.errors import ValidationError
from gistcad.neural.crop import Crop, CropSettings

logger = logging.getLogger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class CropCache:
    """Crops on disk under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    def path_for(self, image_sha: str, mask_sha: str, settings: CropSettings) -> Path:
        """Where the crop of this image, mask and settings lives."""
        for name, sha in (("image_sha", image_sha), ("mask_sha", mask_sha)):
            if not _SHA256.match(sha):
                raise ValidationError(
                    f"{name} must be a lower-case hex sha256 (64 digits), got {sha!r}"
                )
        return self.root / image_sha[:2] / f"{image_sha}_{mask_sha}_{settings.key()}.npz"

    def get(self, image_sha: str, mask_sha: str, settings: CropSettings) -> Crop | None:
        """The cached crop, or ``None`` if absent or unreadable."""
        path = self.path_for(image_sha, mask_sha, settings)
        try:
            with np.load(path, allow_pickle=False) as stored:
                return Crop(
                    stored["array"],
                    stored["affine"],
                    float(stored["spacing_mm"]),
                    stored["tumour_extent_mm"],
                )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            logger.warning("unreadable cached crop %s (%s); making it again", path, exc)
            return None

    def put(self, image_sha: str, mask_sha: str, settings: CropSettings, crop: Crop) -> Path:
        """Store ``crop`` atomically (temporary file + rename); return its path."""
        path = self.path_for(image_sha, mask_sha, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=path.stem + ".", suffix=".part", dir=path.parent
        )
        try:
            with os.fdopen(handle, "wb") as fp:
                np.savez(
                    fp,
                    array=crop.array,
                    affine=crop.affine,
                    spacing_mm=np.float64(crop.spacing_mm),
                    tumour_extent_mm=crop.tumour_extent_mm,
                )
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def get_or_make(
        self,
        image_sha: str,
        mask_sha: str,
        settings: CropSettings,
        make: Callable[[], Crop],
    ) -> Crop:
        """The cached crop, or ``make()``'s, stored first."""
        cached = self.get(image_sha, mask_sha, settings)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        crop = make()
        self.put(image_sha, mask_sha, settings, crop)
        return crop
