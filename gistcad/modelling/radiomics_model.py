"""The radiomics model, the WORC approach: IBSI features of the tumour, then a tuned pipeline.

Per patient: the tumour region is cropped from the canonical CT (bounding box of the mask plus
a margin), resampled to isotropic voxels (linear for HU, nearest for the mask), and described by
the IBSI features of :mod:`gistcad.features` (fixed bin width 25 HU, re-segmented to
−150..400 HU; IBSI reference manual, arXiv:1612.07003). Features are cached on disk by the
image and mask checksums and the settings.

Besides the whole mask, the solid part (:mod:`gistcad.features.solid_part`: mask voxels above
30 HU after 1 mm smoothing) gives the necrosis share, its 10/50/90th HU percentiles and its
intensity statistics (prefix ``solid_``).

The model (:mod:`.radiomics_search`) joins the clinical covariates (site, size, age, sex),
harmonises the image features per center with ComBat (:mod:`.harmonisation`; the scan's kVp
removed as a scanner effect, :attr:`RadiomicsSettings.kvp`), removes near-duplicates, and
searches several classifiers by an inner cross-validation on AUC inside every outer fold
(nested cross-validation, so the out-of-fold AUC is not optimistic), keeping an ensemble of
the best (by default all 16 candidates, and then no inner cross-validation runs; a KIT exon
11 model's fitted on the four genotype classes). Under leave-one-center-out validation the
inner cross-validation leaves one training center out too (with a single training center it
stays stratified k-fold, repeated). This is what ``gistcad train --model radiomics`` trains
(:data:`SEARCH`); with ``--radiomics logistic`` it trains the tuned logistic regression on
the whole tumour's features that was the default before (:data:`LOGISTIC`). Every version
stores its :class:`RadiomicsRecipe`; versions registered before it was stored were trained
with :data:`LOGISTIC` and still load and predict as they were trained.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.ndimage import zoom
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from gistcad.cluster import cluster_executor, map_cases
from gistcad.domain import GenotypeClass, ModelKind
from gistcad.errors import ValidationError
from gistcad.features import EmptyIntensityMaskError, FeatureSettings, extract_features
from gistcad.features.solid_part import PREFIX as SOLID_PREFIX
from gistcad.features.solid_part import solid_part_features
from gistcad.imaging import read_nifti
from gistcad.layout import DataLayout
from gistcad.modelling.artefacts import load_sklearn, save_sklearn
from gistcad.modelling.harmonisation import KvpUse, table_centers
from gistcad.modelling.learners import (
    FloatArray,
    IntArray,
    Scores,
    UnreadablePatientError,
    readable_rows,
)
from gistcad.modelling.radiomics_search import (
    KVP_COLUMNS,
    SearchSettings,
    clinical_covariates,
    search,
)
from gistcad.modelling.targets import CLASSES, genotype_labels

logger = logging.getLogger(__name__)

MARGIN_MM = 5.0
#: KIT exon 11's label among the genotype classes
KIT11_GENOTYPE = CLASSES.index(GenotypeClass.KIT11)


@dataclass(frozen=True)
class RadiomicsSettings:
    """How the region is prepared before the IBSI features."""

    voxel_mm: float = 1.5
    bin_width_hu: float = 25.0
    resegment_hu: tuple[float, float] = (-150.0, 400.0)
    #: add the solid part's features (necrosis share, percentiles, statistics); on in the
    #: recipe ``gistcad train`` uses by default (:data:`SEARCH`), off in :data:`LOGISTIC`
    solid_part: bool = False
    #: the scan's tube voltage (the modelling table's ``kvp``) in ComBat: removed like a
    #: scanner effect (the default: it changes HU-based features physically), protected, or
    #: not used (:class:`~gistcad.modelling.harmonisation.KvpUse`); with the search and the
    #: imaging risk score, whose preprocessing harmonises
    kvp: KvpUse = KvpUse.ADJUST

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (:meth:`from_stored` reads it back)."""
        return {**asdict(self), "resegment_hu": list(self.resegment_hu), "kvp": self.kvp.value}

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> RadiomicsSettings:
        """The settings :meth:`to_dict` wrote; a setting added since takes its default."""
        given = {**cls().to_dict(), **stored}
        low, high = given["resegment_hu"]
        return cls(
            voxel_mm=float(given["voxel_mm"]),
            bin_width_hu=float(given["bin_width_hu"]),
            resegment_hu=(float(low), float(high)),
            solid_part=bool(given["solid_part"]),
            kvp=KvpUse(given["kvp"]),
        )

    def key(self) -> str:
        """The features' cache key: every setting that changes the features (not ``kvp``,
        which only ComBat reads)."""
        fields = {k: v for k, v in asdict(self).items() if k != "kvp"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def _tumour_region(
    image: NDArray[np.generic],
    mask: NDArray[np.generic],
    spacing: NDArray[np.float64],
    voxel_mm: float,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    inside = np.asarray(mask) > 0
    idx = np.argwhere(inside)
    margin = np.ceil(MARGIN_MM / spacing).astype(int)
    low = np.maximum(idx.min(axis=0) - margin, 0)
    high = np.minimum(idx.max(axis=0) + margin + 1, inside.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high, strict=True))
    factors = spacing / voxel_mm
    crop = zoom(np.asarray(image[box], dtype=np.float64), factors, order=1)
    crop_mask = zoom(inside[box].astype(np.uint8), factors, order=0) > 0
    return crop, crop_mask


def tumour_features(
    image: NDArray[np.generic],
    mask: NDArray[np.generic],
    spacing: tuple[float, float, float] | NDArray[np.float64],
    settings: RadiomicsSettings,
) -> dict[str, float] | None:
    """The IBSI features (and, with ``settings.solid_part``, the solid part's) of the tumour
    ``mask`` (non-zero inside) in ``image`` (HU), both of one shape, ``spacing`` the voxel size
    per array axis in mm: cropped with a margin, resampled to ``settings.voxel_mm`` isotropic
    voxels, then described (the module docstring gives the recipe).

    None when no voxel of the tumour lies in ``settings.resegment_hu`` (an outline on fat or
    air, or a tumour calcified through), or when none is left after the resampling (an outline
    finer than ``settings.voxel_mm``): such a tumour has no defined feature, and the callers
    leave its patient out (:func:`described_patients`).
    """
    crop, crop_mask = _tumour_region(
        image, mask, np.asarray(spacing, dtype=float), settings.voxel_mm
    )
    if not crop_mask.any():
        return None
    try:
        features = extract_features(
            crop,
            crop_mask,
            (settings.voxel_mm,) * 3,
            FeatureSettings.ct(settings.bin_width_hu, settings.resegment_hu),
        )
    except EmptyIntensityMaskError:
        return None
    if settings.solid_part:
        features.update(solid_part_features(crop, crop_mask, (settings.voxel_mm,) * 3))
    return features


def cache_path(data_dir: Path, row: Any, settings: RadiomicsSettings) -> Path:
    """Where the features of ``row``'s image and mask under ``settings`` are cached."""
    name = f"{row.volume_sha256}_{row.mask_sha256}_{settings.key()}.json"
    return DataLayout(data_dir).feature_cache / name


def patient_features(data_dir: Path, row: Any, settings: RadiomicsSettings) -> dict[str, float]:
    """The IBSI features of one patient's tumour (cached under ``data_dir/features``); none
    (an empty dict) for a tumour without a voxel in the re-segmentation range
    (:func:`tumour_features`) and for an outline without any voxel (an empty mask: a contour
    smaller than the CT's voxels rasterises to nothing), so that :func:`described_patients`
    leaves the patient out or refuses it by name.

    Without the solid part, the features are taken from the same settings' cache entry with
    the solid part when there is one (the same crop and IBSI features, the ``solid_`` ones
    dropped), so that training both radiomics pipelines extracts each tumour once."""
    cache = cache_path(data_dir, row, settings)
    if cache.is_file():
        return dict(json.loads(cache.read_text()))
    fuller = cache_path(data_dir, row, replace(settings, solid_part=True))
    if not settings.solid_part and fuller.is_file():
        cached = json.loads(fuller.read_text())
        features = {k: v for k, v in cached.items() if not k.startswith(SOLID_PREFIX)}
    else:
        features = _extracted(data_dir, row, settings)
    cache.parent.mkdir(parents=True, exist_ok=True)
    # a name of its own: the same patient may be computed twice at once (a task run again)
    temporary = cache.with_name(f"{cache.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    stored = {k: (None if v is None or np.isnan(v) else v) for k, v in features.items()}
    temporary.write_text(json.dumps(stored))
    temporary.replace(cache)
    return features


def _extracted(data_dir: Path, row: Any, settings: RadiomicsSettings) -> dict[str, float]:
    """The features of ``row``'s tumour computed from its image and mask (none for an empty
    mask, or a tumour :func:`tumour_features` cannot describe)."""
    image, mask = read_nifti(data_dir / row.volume_path), read_nifti(data_dir / row.mask_path)
    if not np.asarray(mask.array).any():
        logger.info("the tumour mask %s has no voxel: no radiomics features", row.mask_path)
        return {}
    return tumour_features(image.array, mask.array, image.spacing_mm, settings) or {}


@dataclass(frozen=True)
class CaseImages:
    """What a feature task needs of one patient: the image and mask, and their checksums."""

    volume_path: str
    mask_path: str
    volume_sha256: str
    mask_sha256: str


@dataclass(frozen=True)
class FeatureTask:
    """One patient's features as a pure task (:mod:`gistcad.cluster`): inputs in, features
    out; the only file it writes is the cache, keyed by those inputs and renamed into place."""

    data_dir: Path
    settings: RadiomicsSettings

    def __call__(self, case: CaseImages) -> dict[str, float]:
        return patient_features(self.data_dir, case, self.settings)


def feature_table(
    table: pd.DataFrame,
    data_dir: Path,
    settings: RadiomicsSettings,
    progress: Callable[[str], None] | None = None,
    *,
    workers: int | None = None,
) -> pd.DataFrame:
    """One row of features per row of ``table`` (which needs image and mask columns).

    Each patient is a task (:func:`feature_rows`): on a cluster when many patients' features
    are not cached yet, here otherwise (:func:`gistcad.cluster.use_cluster`; ``workers``: a
    local cluster's size). ``progress`` is told "radiomics features done/total" every 25
    patients and at the end.
    """
    missing = sum(
        not cache_path(data_dir, row, settings).is_file() for row in table.itertuples(index=False)
    )
    with cluster_executor(missing, workers=workers) as executor:
        return feature_rows(table, data_dir, settings, executor, progress)


def feature_rows(
    table: pd.DataFrame,
    data_dir: Path,
    settings: RadiomicsSettings,
    executor: Executor | None,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """:func:`feature_table` on ``executor`` (None: in this process), one task per patient."""
    cases = [
        CaseImages(str(r.volume_path), str(r.mask_path), str(r.volume_sha256), str(r.mask_sha256))
        for r in table.itertuples(index=False)
    ]

    def every_25(message: str, done: int | None = None, total: int | None = None) -> None:
        if progress and done is not None and (done % 25 == 1 or done == total):
            progress(message)

    task = FeatureTask(data_dir, settings)
    rows = map_cases(task, cases, executor, progress=every_25, what="radiomics features")
    features = pd.DataFrame(rows).astype(float)
    if settings.kvp is not KvpUse.IGNORE:  # read by the preprocessing's ComBat, not a feature
        kvp = table["kvp"] if "kvp" in table else pd.Series(np.nan, index=table.index)
        features[KVP_COLUMNS[settings.kvp]] = pd.to_numeric(kvp, errors="coerce").to_numpy(float)
    return features


def described_rows(features: pd.DataFrame) -> NDArray[np.bool_]:
    """Which rows of a feature table describe their tumour: any image feature present (a
    tumour with no voxel in the re-segmentation range has none, :func:`tumour_features`; the
    scan's kVp is not a feature of the tumour)."""
    image = features.drop(columns=list(KVP_COLUMNS.values()), errors="ignore")
    return np.asarray(image.notna().any(axis=1).to_numpy(), dtype=bool)


class UndescribedTumourError(UnreadablePatientError):
    """A patient the caller named has no radiomics features (:func:`described_patients`)."""


def described_patients(
    table: pd.DataFrame, features: pd.DataFrame, settings: RadiomicsSettings, *, named: bool
) -> pd.DataFrame:
    """The rows of ``table`` whose tumour has features (``features``: :func:`feature_rows` of
    ``table``); a tumour with no voxel in the re-segmentation range has none
    (:func:`tumour_features`), nor has an empty outline (:func:`patient_features`), and its
    patient is left out, with a warning.

    Raises
    ------
    UndescribedTumourError
        When ``named`` (the caller chose these patients) and one of them has no features, or
        when no patient has any: naming them and what to check (a :class:`ValidationError`).
    """
    low, high = settings.resegment_hu
    return readable_rows(
        table,
        described_rows(features),
        named=named,
        cannot="described by radiomics",
        why=(
            f"no voxel of the tumour outline lies between {low:g} and {high:g} HU, the range "
            "radiomics describes, or the outline covers no voxel of the CT at all (or none at "
            f"the {settings.voxel_mm:g} mm voxels radiomics resamples to)"
        ),
        advice=(
            "check that the outline lies on the tumour of this CT series (not on fat, air or "
            "bone), correct it, and import it again"
        ),
        error=UndescribedTumourError,
    )


def build_radiomics_model(seed: int = 0, *, by_center: bool = False) -> GridSearchCV:
    """The tuned pipeline (inner 3-fold CV over k and the regularisation strength; with
    ``by_center``, leave one center out: fit it with ``groups`` = the centers)."""
    pipeline = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("constant", VarianceThreshold()),
            ("scale", StandardScaler()),
            ("select", SelectKBest(f_classif)),
            (
                "classifier",
                LogisticRegression(class_weight="balanced", max_iter=3000, random_state=seed),
            ),
        ]
    )
    grid = {"select__k": [5, 20, 50], "classifier__C": [0.05, 0.5]}
    inner: LeaveOneGroupOut | StratifiedKFold = (
        LeaveOneGroupOut()
        if by_center
        else StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    )
    return GridSearchCV(pipeline, grid, cv=inner, scoring="neg_log_loss", n_jobs=1)


@dataclass(frozen=True)
class RadiomicsRecipe:
    """A radiomics model's features and pipeline, stored with every version it trains (so a
    version predicts as it was trained whatever the default becomes): ``settings`` (the
    features) and ``search`` (the WORC-style search; None: the tuned logistic regression)."""

    settings: RadiomicsSettings
    search: SearchSettings | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as the version's parameters hold it (lists, not tuples)."""
        search = None if self.search is None else asdict(self.search)
        return dict(json.loads(json.dumps({"features": self.settings.to_dict(), "search": search})))

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> RadiomicsRecipe:
        search = stored.get("search")
        return cls(
            RadiomicsSettings.from_stored(stored["features"]),
            None if search is None else SearchSettings.from_stored(search),
        )

    @classmethod
    def named(cls, name: str, ensemble: int | None = None) -> RadiomicsRecipe:
        """The pipeline a training request names (:data:`~gistcad.modelling.request.
        RADIOMICS_MODELS`): "search", the default, or "logistic"; ``ensemble``: the search
        keeps its best so many candidates by inner cross-validation (None: all of them)."""
        if name == "logistic" and ensemble is None:
            return LOGISTIC
        if name == "search":
            if ensemble is None:
                return SEARCH
            assert SEARCH.search is not None
            return replace(SEARCH, search=replace(SEARCH.search, ensemble_size=ensemble))
        if name == "logistic":
            raise ValidationError(
                "the logistic radiomics pipeline keeps no ensemble: --radiomics-ensemble is an "
                "option of the search"
            )
        raise ValidationError(f"unknown radiomics model {name!r}: search or logistic")


#: the default since the search was measured at 400–1,400 patients (README "Learning curves"):
#: the whole tumour's and the solid part's features, searched
SEARCH = RadiomicsRecipe(RadiomicsSettings(solid_part=True), SearchSettings())
#: the tuned logistic regression on the whole tumour's features; every version registered
#: before the recipe was stored was trained so
LOGISTIC = RadiomicsRecipe(RadiomicsSettings(), None)


@dataclass
class RadiomicsLearner:
    """IBSI radiomics and a tuned logistic regression, or the searched ensemble (nested CV)."""

    n_classes: int
    data_dir: Path
    seed: int = 0
    settings: RadiomicsSettings = RadiomicsSettings()
    progress: Callable[[str], None] | None = None
    #: tune by leaving one training center out (leave-one-center-out validation)
    inner_by_center: bool = False
    kind: ModelKind = ModelKind.RADIOMICS
    #: None: the tuned logistic regression on the image features; a :class:`SearchSettings`:
    #: the WORC-style search (covariates, ComBat, ensemble). ``gistcad train`` builds the
    #: learner from a :class:`RadiomicsRecipe` (:data:`SEARCH` by default)
    search_settings: SearchSettings | None = None
    #: the task is KIT exon 11 vs rest: a search with ``genotype_classes`` then fits the four
    #: genotype classes and predicts their probability of KIT exon 11
    kit11: bool = False

    @property
    def recipe(self) -> RadiomicsRecipe:
        """The features and pipeline this learner trains, as its version stores them."""
        return RadiomicsRecipe(self.settings, self.search_settings)

    def _features(self, table: pd.DataFrame) -> pd.DataFrame:
        return feature_table(table, self.data_dir, self.settings, self.progress)

    def prepare(
        self,
        table: pd.DataFrame,
        executor: Executor | None,
        progress: Callable[[str], None] | None = None,
        *,
        named: bool = False,
    ) -> pd.DataFrame:
        """Compute (and cache) every patient's features once, before the folds or the
        prediction chunks read them; ``progress``: told as they complete (default: the
        learner's own). Returns the rows of ``table`` whose tumour could be described
        (:func:`described_patients`, which refuses when ``named``)."""
        features = feature_rows(
            table, self.data_dir, self.settings, executor, progress or self.progress
        )
        return described_patients(table, features, self.settings, named=named)

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any:
        part = table.iloc[rows]
        features = self._features(part)
        if self.search_settings is None:  # no ComBat: the kVp column is not used
            features = features.drop(columns=list(KVP_COLUMNS.values()), errors="ignore")
            centers = part["center"].to_numpy(dtype=object) if self.inner_by_center else None
            by_center = centers is not None and np.unique(centers).size >= 2
            model = build_radiomics_model(self.seed, by_center=by_center).fit(
                features, labels[rows], groups=centers if by_center else None
            )
            return {
                "model": model.best_estimator_,
                "columns": list(features.columns),
                "best_params": model.best_params_,
            }
        via_genotype = self.kit11 and self.search_settings.genotype_classes
        fitted_labels = labels[rows]
        if via_genotype:  # known wherever KIT exon 11 status is known
            fitted_labels = genotype_labels(part)
            if not np.array_equal(fitted_labels == KIT11_GENOTYPE, labels[rows] == 1):
                raise ValueError("the KIT exon 11 labels do not follow the table's genotype")
        ensemble = search(
            features,
            clinical_covariates(part),
            table_centers(part),
            fitted_labels,
            self.search_settings,
            seed=self.seed,
            by_center=self.inner_by_center,
            score_class=KIT11_GENOTYPE if via_genotype else None,
        )
        return {
            "ensemble": ensemble,
            "columns": list(features.columns),
            "members": ensemble.names,
            "search": asdict(self.search_settings),
            "via_genotype": via_genotype,
        }

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> FloatArray:
        fitted = self.fit(table, labels, train)
        return self.predict(fitted, table.iloc[test]).probabilities

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]:
        path = folder / "model.joblib"
        return path, save_sklearn(fitted, path)

    def load(self, path: Path, sha256: str) -> Any:
        return load_sklearn(path, sha256)

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores:
        features = self._features(table).reindex(columns=fitted["columns"])
        out = np.zeros((len(table), self.n_classes))
        if "ensemble" in fitted:
            ensemble = fitted["ensemble"]
            proba = ensemble.predict_proba(
                features, clinical_covariates(table), table_centers(table)
            )
            if fitted.get("via_genotype"):  # P(KIT exon 11) of the genotype classes
                seen = list(ensemble.classes)
                kit11 = proba[:, seen.index(KIT11_GENOTYPE)] if KIT11_GENOTYPE in seen else 0.0
                out[:, 1], out[:, 0] = kit11, 1.0 - kit11
            else:
                out[:, ensemble.classes] = proba
        else:  # the logistic pipeline (and every version registered before the search)
            model = fitted["model"]
            out[:, model.classes_] = model.predict_proba(features)
        return Scores(probabilities=out)
