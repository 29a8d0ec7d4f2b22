"""The data folder's layout: where each kind of file lives, in one place.

Every module that writes or reads a file under the data folder asks a :class:`DataLayout`
for the path; no other module joins folder names onto the data folder. ::

    <data folder>/
        gistcad.sqlite                 the store (SQLite default; see gistcad.config)
        pseudonym.key                  keyed pseudonyms of this data folder (mode 0600)
        volumes/<pseudonym>/<uid>.nii  canonical CT volumes and masks (written at import)
        .staging/<uuid>/               an import's files until they are published
        models/<name>/<time>-<rand>/   one training run's model files
        cams/<version>/<pseudonym>.npz Grad-CAM maps of a deep model's predictions
        crops/                         the deep model's crop cache
        features/                      the radiomics feature cache
        demo-cohort/                   the synthetic demo cohort (and its oracle.csv)

The layout only names paths; it creates nothing. Paths stored in the database (volumes,
model files) are relative to the data folder: :meth:`DataLayout.resolve` turns them back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

VOLUMES_DIRNAME = "volumes"
STAGING_DIRNAME = ".staging"
MODELS_DIRNAME = "models"
CAMS_DIRNAME = "cams"
CROPS_DIRNAME = "crops"
FEATURES_DIRNAME = "features"
DEMO_DIRNAME = "demo-cohort"
KEY_FILENAME = "pseudonym.key"
ORACLE_FILENAME = "oracle.csv"


@dataclass(frozen=True)
class DataLayout:
    """The paths of one data folder (``root``)."""

    root: Path

    @property
    def volumes(self) -> Path:
        """Canonical image volumes and masks, one folder per pseudonym."""
        return self.root / VOLUMES_DIRNAME

    @property
    def staging(self) -> Path:
        """Imports in progress: files wait here until their transaction commits."""
        return self.root / STAGING_DIRNAME

    @property
    def models(self) -> Path:
        """Trained model files, one folder per training run."""
        return self.root / MODELS_DIRNAME

    @property
    def attention_maps(self) -> Path:
        """Grad-CAM maps, one folder per model version."""
        return self.root / CAMS_DIRNAME

    @property
    def crop_cache(self) -> Path:
        """The deep model's cache of tumour crops."""
        return self.root / CROPS_DIRNAME

    @property
    def feature_cache(self) -> Path:
        """The radiomics model's cache of extracted features."""
        return self.root / FEATURES_DIRNAME

    @property
    def pseudonym_key(self) -> Path:
        """The key of this data folder's pseudonyms."""
        return self.root / KEY_FILENAME

    @property
    def demo_cohort(self) -> Path:
        """Where ``gistcad demo load`` builds the synthetic demo cohort."""
        return self.root / DEMO_DIRNAME

    @property
    def demo_oracle(self) -> Path:
        """The demo cohort's oracle (truth and ceilings), when the demo was built here."""
        return self.demo_cohort / ORACLE_FILENAME

    @staticmethod
    def volume(pseudonym: str, series_uid: str, suffix: str = "") -> Path:
        """A canonical volume, relative to the data folder (as the store records it)."""
        return Path(VOLUMES_DIRNAME) / pseudonym / f"{series_uid}{suffix}.nii"

    def attention_map(self, model_version_id: int, pseudonym: str) -> Path:
        """The Grad-CAM map of a deep model's prediction for one patient."""
        return self.attention_maps / str(model_version_id) / f"{pseudonym}.npz"

    def resolve(self, stored: str | Path) -> Path:
        """A path the store recorded (relative to the data folder) made absolute."""
        return self.root / stored
