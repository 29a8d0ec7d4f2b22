"""The deep model as a learner: tumour crops into the MONAI network of :mod:`gistcad.neural`.

Crops (CT and mask channels, see :func:`gistcad.neural.crop.tumour_crop`) are cached on disk by
the image and mask checksums and the crop settings. Each fit holds out a stratified fifth of
its training rows as the validation fold for early stopping (:func:`early_stopping_split`;
under leave-one-center-out validation, whole centers, so that no center is on both sides).
Besides the class
probabilities, the network's Cox head gives an imaging risk score (higher = earlier
recurrence).

**Response targets** (``choi_pr_fu1``, ``progression_6m``): the network gets a sixth output, a
response head (:func:`gistcad.neural.network.response_logit`), trained with the binary
cross-entropy of the treated patients' stored category beside the genotype and Cox terms of the
same patients; early stopping watches the response term alone on the validation fold, and the
covariate term of the response logit starts as a logistic regression of the response on the
covariates. Only the training rows of the response target (treated patients with an assessment)
are trained on: the genotype of untreated patients is never used, so the learner sees nothing
beyond the rows it is given.

**Inputs.** The crop, and — added linearly to the network's outputs
(:class:`~gistcad.neural.network.CovariateFusion`) — the tumour's size measured on its mask, its
primary site, and the patient's age and sex (:mod:`gistcad.neural.covariates`). The crop is
rescaled to fit each tumour, so without the size covariate the network cannot know it, and
what necrosis, heterogeneity and lobulation say about the genotype depends on size. Age and
sex are what the clinical baseline knows besides, so the deep model sees everything the
clinical baseline sees plus the CT: beating it means the image adds to what is known.

**Network.** The small DenseNet with a learnable histogram of the CT inside the tumour mask
beside its pooled features (:mod:`gistcad.neural.histogram`), so that the level and spread of
the tumour's own voxels are not averaged with its surroundings.

**Covariate start.** The covariate term starts as a multinomial logistic regression of the
genotype on the covariates of the training rows (:func:`gistcad.neural.fitting.covariate_start`),
not at zero: early stopping ends training after a few epochs, before a term that starts at
zero has learnt what size, site, age and sex say, and the network's image part then only
has to learn what the crop adds.

**Harmonisation** (``harmonise``). Before the network sees them, the tumour's voxels in each
crop are shifted by ComBat of the tumour's CT level per center, fitted on the training rows
(:mod:`gistcad.modelling.crop_harmonisation`): the harmonisation of the radiomics model
(centers as batches, size and site protected, kVp removed where it varies within a center),
location only, applied to the one feature a crop's voxels carry most of the genotype in. The
fitted terms are stored in the weights file, so that a version predicts every patient with
the harmonisation of its training rows. Versions trained before it load without.

**Defaults** (:class:`DlSettings`), chosen on synthetic cohorts with
``gistcad demo build --signal 1`` (5-fold out-of-fold KIT exon 11 AUC; 800 patients, seed 2,
Bayes ceiling 0.82; logistic regression on site, size, age and sex 0.59):

===============================================  ============
network, covariates, objective                   AUC
===============================================  ============
small DenseNet, image only, weighted CE + 0.5 Cox   0.52
small DenseNet, image only, weighted CE             0.60
small DenseNet, image only, CE + 0.5 Cox            0.55
small DenseNet, image only, CE                      0.62
small DenseNet + size, site, weighted CE + 0.5 Cox  0.57
small DenseNet + size, site, CE + 0.5 Cox           0.56
small DenseNet + size, site, CE + 0.1 Cox           0.64
size and site alone (no image), CE                  0.53
===============================================  ============

The Cox term at weight 0.5 pulled the shared features towards what predicts recurrence (size,
mitoses) and cost the genotype 0.08 AUC; at 0.1 the risk score keeps Harrell's C 0.73 (0.74 at
0.5). Inverse-frequency class weights multiply the gradient of the three rare classes (a few
dozen patients each) and cost 0.02–0.05. On 200 patients none of these reached the clinical
baseline: too few for a network to find a signal that is weak in every single patient. The
previous default (EfficientNet-B0, 4.7 M parameters, 12 epochs, weighted CE + 0.5 Cox) stopped
at epochs 1–6 and scored 0.45 on 200 patients; the small DenseNet trains 12× faster, so that
40 epochs fit in the time of 12 demo epochs before.

**No intensity jitter** (``intensity_scale`` and ``intensity_shift_hu`` 0). The training
augmentation used to rescale each crop's HU by up to ±10 % and shift them by up to ±15 HU. The
genotype's plainest sign on CT is the enhancement of the solid part (KIT exon 9 about 11 HU
above KIT exon 11, PDGFRA about 14 HU below, on a spread of 12 HU between patients), and a
random shift of that size per crop hides it. Measured on 400-patient cohorts (``signal`` 1,
matrix 128, 5-fold out-of-fold KIT exon 11 AUC on the clinical baseline's folds), with jitter →
without: 0.599 → 0.615 (seed 5; clinical 0.546) and 0.543 → 0.590 (seed 6; clinical 0.569).
Rotation and translation stay. Versions trained before keep their jitter on record
(:meth:`DlSettings.from_stored`).

**Histogram, age and sex, covariate start** (the defaults since). On 400-patient cohorts
(``signal`` 1, 5-fold out-of-fold KIT exon 11 AUC on the clinical baseline's folds) the
DenseNet without jitter was not reliably above the clinical baseline: 0.615, 0.590 and 0.523
against 0.546, 0.569 and 0.607 (seeds 5 and 6 at matrix 128, seed 9 at matrix 96), although a
logistic regression on seven intensity statistics inside the mask plus size and site scored
0.652, 0.638 and 0.639: the signal was in the crops, the network did not find it. Each change
alone on the third cohort: age and sex 0.588 (the covariate term barely moved from zero);
covariate start with age and sex 0.59 (the logistic regression's own 0.590: the image added
nothing); histogram alone 0.541. Together: 0.656, 0.664 and 0.647. ``bench/model_honesty.py``
repeats the comparison on other seeds.

Ensemble, test-time views, fixed crops
--------------------------------------
All three are off by default (``gistcad train --model dl --ensemble N --tta N --crop fixed
--crop-mm X``); versions stored before they existed load as a single network without views on
fitted crops (:meth:`DlSettings.from_stored`).

- **Seed ensemble** (``ensemble``): N networks trained on the same rows with the same early
  stopping split and covariate start, network k with seed ``seed + k`` (:func:`member_seed`),
  so the first is exactly the single network of that seed. Predictions average the networks'
  softmax probabilities (and response probabilities) and their Cox risk scores (log hazard
  ratios, so the mean is that of the log). Out of fold, each fold trains its own ensemble. The
  networks are saved as one file (:func:`gistcad.neural.weights.ensemble_state`) whose sha256
  covers them all. Grad-CAM shows the mean of the networks' maps.
- **Test-time views** (``tta``): each prediction averages the crop as it is and ``tta`` fixed
  rotations about the craniocaudal axis and shifts drawn once from the training augmentation's
  ranges with :data:`TTA_SEED` (:func:`gistcad.neural.augment.view_thetas`): the same views for
  every patient and run, so predictions are reproducible and a patient's does not depend on who
  else is predicted. No mirror and no intensity change, for the reasons of
  :mod:`gistcad.neural.augment` (a mirrored crop is not anatomy, and the side carries the site;
  the genotype shows in the HU). Views cost a pass over the crops each; the covariates are the
  same for every view.
- **Fixed crops** (``crop_policy`` "fixed", ``crop_spacing_mm``): every crop at the same mm per
  voxel, so that the network sees each tumour at its true size (a 32-voxel crop at 4 mm spans
  128 mm; larger tumours are clipped). The size covariate stays: it is measured on the mask
  whatever the crop, and it is the only size the network has of a clipped tumour. With "fit"
  (the default) ``crop_spacing_mm`` is the finest spacing allowed (1 mm).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import StratifiedGroupKFold, train_test_split

from gistcad.domain import ModelKind, Precision
from gistcad.errors import ValidationError
from gistcad.imaging import read_nifti
from gistcad.layout import DataLayout
from gistcad.modelling.crop_harmonisation import CropHarmoniser, protected_covariates
from gistcad.modelling.harmonisation import table_centers
from gistcad.modelling.learners import IntArray, Scores, readable_rows
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import genotype_labels
from gistcad.neural.augment import AugmentSettings, view_thetas
from gistcad.neural.covariates import (
    CLINICAL_COVARIATE_NAMES,
    COVARIATE_NAMES,
    clinical_covariates,
    covariate_matrix,
)
from gistcad.neural.crop import Crop, CropSettings, EmptyMaskError, SpacingPolicy, tumour_crop
from gistcad.neural.crop_cache import CropCache
from gistcad.neural.distributed import fit_network
from gistcad.neural.fitting import Monitor, TrainConfig, covariate_start
from gistcad.neural.gradcam import gradcam
from gistcad.neural.inference import predict_mean
from gistcad.neural.network import (
    GENOTYPE_ORDER,
    KIT11_INDEX,
    Architecture,
    ModelConfig,
    build_model,
    pick_device,
)
from gistcad.neural.weights import ensemble_state, load_saved, save_weights

logger = logging.getLogger(__name__)

#: The intensity jitter deep models were trained with before it became a setting.
OLD_INTENSITY_SCALE, OLD_INTENSITY_SHIFT_HU = 0.10, 15.0
#: The seed of the test-time views (:meth:`DlSettings.views`): fixed, so that a version's
#: predictions are the same at every run.
TTA_SEED = 0
#: Seeds between an ensemble's networks: network k trains with ``seed + k`` (wrapped to the
#: 32 bits a seed has).
SEED_RANGE = 2**32


@dataclass(frozen=True)
class DlSettings:
    """Network, crop size, covariates, objective and training budget of the deep model.

    ``threads``: torch's intra-op threads while training and predicting; ``None`` keeps
    torch's own setting (``OMP_NUM_THREADS``, else one per core). ``intensity_scale`` and
    ``intensity_shift_hu``: the HU jitter of the training augmentation (relative, and in HU;
    0: none, see the module docstring).

    ``ensemble``: networks trained with different seeds on the same rows and the same early
    stopping split, their predictions averaged (1: a single network). ``tta``: test-time
    views averaged besides the crop as it is (0: none). ``crop_policy`` and
    ``crop_spacing_mm``: the crop's :class:`~gistcad.neural.crop.SpacingPolicy` and its
    spacing (fixed: every crop's; fit: the finest allowed). See "Ensemble, test-time views,
    fixed crops" in the module docstring.

    ``harmonise``: ComBat of the tumour's CT level per center, fitted on the training rows
    (:mod:`gistcad.modelling.crop_harmonisation`; "Harmonisation" in the module docstring).

    ``precision``: the training's arithmetic, float32 or mixed precision
    (:class:`~gistcad.domain.Precision`; "The GPU path" in :mod:`gistcad.neural.fitting`).
    """

    crop_size: int = 32
    epochs: int = 40
    patience: int = 10
    batch_size: int = 8
    threads: int | None = None
    architecture: Architecture = Architecture.DENSENET_SMALL_HISTOGRAM
    covariates: bool = True
    class_weighted: bool = False
    cox_weight: float = 0.1
    dropout: float = 0.0
    intensity_scale: float = 0.0
    intensity_shift_hu: float = 0.0
    clinical_covariates: bool = True
    covariate_start: bool = True
    ensemble: int = 1
    tta: int = 0
    crop_policy: SpacingPolicy = SpacingPolicy.FIT
    crop_spacing_mm: float = 1.0
    harmonise: bool = True
    precision: Precision = Precision.FP32

    def __post_init__(self) -> None:
        object.__setattr__(self, "architecture", Architecture(self.architecture))
        try:
            object.__setattr__(self, "precision", Precision(self.precision))
        except ValueError:
            choices = ", ".join(p.value for p in Precision)
            raise ValidationError(f"unknown precision {self.precision!r}: {choices}") from None
        try:
            object.__setattr__(self, "crop_policy", SpacingPolicy(self.crop_policy))
        except ValueError:
            choices = " or ".join(p.value for p in SpacingPolicy)
            raise ValidationError(f"unknown crop policy {self.crop_policy!r}: {choices}") from None
        if isinstance(self.ensemble, bool) or int(self.ensemble) != self.ensemble:
            raise ValidationError(
                f"the ensemble's size must be a whole number, not {self.ensemble!r}"
            )
        if self.ensemble < 1:
            raise ValidationError(
                f"an ensemble needs at least one network (1 is a single network), got "
                f"{self.ensemble}"
            )
        if isinstance(self.tta, bool) or int(self.tta) != self.tta or self.tta < 0:
            raise ValidationError(
                f"test-time views must be a whole number, 0 or more (0: the crop as it is "
                f"only), got {self.tta!r}"
            )
        if not float(self.crop_spacing_mm) > 0:
            raise ValidationError(
                f"the crop spacing must be a positive number of millimetres per voxel, got "
                f"{self.crop_spacing_mm}"
            )

    def augment(self) -> AugmentSettings:
        """Rotation and translation as :class:`AugmentSettings`' defaults; the intensity jitter
        of these settings (none by default, see the module docstring)."""
        return AugmentSettings(hu_scale=self.intensity_scale, hu_shift=self.intensity_shift_hu)

    @classmethod
    def before_covariates(cls, epochs: int = 12) -> DlSettings:
        """The settings of deep models registered before covariates and the small DenseNet
        (EfficientNet-B0, image only, class-weighted): to load and run those versions."""
        return cls(
            epochs=epochs,
            patience=4,
            architecture=Architecture.EFFICIENTNET_B0,
            covariates=False,
            clinical_covariates=False,
            covariate_start=False,
            class_weighted=True,
            cox_weight=0.5,
            dropout=0.2,
            intensity_scale=OLD_INTENSITY_SCALE,
            intensity_shift_hu=OLD_INTENSITY_SHIFT_HU,
            harmonise=False,
        )

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> DlSettings:
        """Settings as stored with a model version. A key missing from an older version takes
        the value it was trained with: ±10 % and ±15 HU of jitter, no age and sex, a covariate
        term starting at zero, a single network without test-time views, crops fitted to
        each tumour with a 1 mm floor, no harmonisation, float32."""
        return cls(
            **{
                "intensity_scale": OLD_INTENSITY_SCALE,
                "intensity_shift_hu": OLD_INTENSITY_SHIFT_HU,
                "clinical_covariates": False,
                "covariate_start": False,
                "ensemble": 1,
                "tta": 0,
                "crop_policy": SpacingPolicy.FIT,
                "crop_spacing_mm": 1.0,
                "harmonise": False,
                **stored,
            }
        )

    @classmethod
    def for_request(cls, request: TrainRequest) -> DlSettings:
        """The default settings with what a training request asks of the deep model: its
        epochs, ensemble, test-time views, crop and precision."""
        asked: dict[str, Any] = {
            "ensemble": request.ensemble,
            "tta": request.tta,
            "crop_policy": request.crop,
            "precision": request.precision,
        }
        if request.epochs is not None:
            asked["epochs"] = request.epochs
        if request.crop_mm is not None:
            asked["crop_spacing_mm"] = request.crop_mm
        return cls(**asked)

    @property
    def covariate_names(self) -> tuple[str, ...]:
        """Names of the covariate vector (empty without covariates)."""
        if not self.covariates:
            return ()
        return COVARIATE_NAMES + (CLINICAL_COVARIATE_NAMES if self.clinical_covariates else ())

    def crop(self) -> CropSettings:
        """How the crops are cut (the defaults, fit with a 1 mm floor, are
        :class:`CropSettings`' own, so their cached crops are those of before)."""
        return CropSettings(
            size=self.crop_size, policy=self.crop_policy, spacing_mm=float(self.crop_spacing_mm)
        )

    def views(self) -> torch.Tensor | None:
        """The ``tta`` test-time views (rotation and translation of the training
        augmentation's ranges, :data:`TTA_SEED`), None without."""
        if self.tta == 0:
            return None
        return view_thetas(self.tta, AugmentSettings(hu_scale=0.0, hu_shift=0.0), TTA_SEED)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the model version)."""
        return {
            **asdict(self),
            "architecture": self.architecture.value,
            "crop_policy": self.crop_policy.value,
            "precision": self.precision.value,
        }


@dataclass
class DlLearner:
    """A MONAI network on tumour crops (:class:`DlSettings`), with a Cox risk head.

    The network always learns the four genotype classes (and the risk score); for the
    ``kit11`` target its probabilities are folded into KIT exon 11 vs rest. With ``response``
    (a response target) it also learns the response head, whose probability is the target's.
    The ``risk`` target (a class) is left to the clinical and radiomics models: the deep
    model's risk output is the continuous Cox score.
    """

    n_classes: int
    data_dir: Path
    seed: int = 0
    settings: DlSettings = field(default_factory=DlSettings)
    progress: Callable[[str], None] | None = None
    #: where it trains and predicts: "auto" (CUDA when available), "cpu" or "cuda"; a choice
    #: of the run, not stored with the model
    device: str = "auto"
    #: hold out whole centers for early stopping (leave-one-center-out validation)
    inner_by_center: bool = False
    #: a response target: the labels are the response (0/1), learnt by the response head
    response: bool = False
    #: processes each fit is spread over (:func:`gistcad.neural.distributed.fit_network`); a
    #: choice of the run, not stored with the model
    nproc: int = 1
    #: processes reading each batch's crops ahead of the training step (0: none); a choice of
    #: the run, not stored with the model
    loader_workers: int = 0
    kind: ModelKind = ModelKind.DL

    def model_config(self) -> ModelConfig:
        return ModelConfig(
            architecture=self.settings.architecture,
            crop_size=self.settings.crop_size,
            n_classes=len(GENOTYPE_ORDER),
            dropout=self.settings.dropout,
            n_covariates=len(self.settings.covariate_names),
            response_head=self.response,
        )

    def _set_threads(self) -> None:
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)

    def _to_target(self, probabilities: np.ndarray, response: np.ndarray | None) -> np.ndarray:
        if self.response:
            if response is None:
                raise ValidationError("this network has no response head")
            return np.column_stack([1 - response, response])
        if self.n_classes == len(GENOTYPE_ORDER):
            return probabilities
        kit11 = probabilities[:, KIT11_INDEX]
        return np.column_stack([1 - kit11, kit11])

    def _crop(self, row: Any) -> Crop:
        cache = CropCache(DataLayout(self.data_dir).crop_cache)
        crop_settings = self.settings.crop()

        def make() -> Crop:
            image = read_nifti(self.data_dir / row.volume_path)
            mask = read_nifti(self.data_dir / row.mask_path)
            return tumour_crop(image, mask, crop_settings)

        return cache.get_or_make(row.volume_sha256, row.mask_sha256, crop_settings, make)

    def prepare(
        self,
        table: pd.DataFrame,
        executor: Executor | None = None,
        progress: Callable[[str], None] | None = None,
        *,
        named: bool = False,
    ) -> pd.DataFrame:
        """Cut (and cache) every patient's crop once, before the folds or the prediction
        chunks read them; ``progress``: told every 50 crops (default: the learner's own);
        ``executor`` is not used (the crops are cut here, one after the other). Returns the
        rows of ``table`` whose outline covers a voxel of the CT: an empty outline has no crop,
        and its patient is left out, with a warning.

        Raises
        ------
        UnreadablePatientError
            When ``named`` (the caller chose these patients) and one of them has an empty
            outline, or when no patient has an outline with a voxel.
        """
        report = progress or self.progress
        cache = CropCache(DataLayout(self.data_dir).crop_cache)
        crop_settings = self.settings.crop()
        outlined = np.ones(len(table), dtype=bool)
        for i, row in enumerate(table.itertuples(index=False)):
            # a crop in the cache was cut from a mask with voxels: not read here again
            cached = cache.path_for(row.volume_sha256, row.mask_sha256, crop_settings)
            try:
                if not cached.is_file():
                    self._crop(row)
            except EmptyMaskError:
                outlined[i] = False
            if report and i % 50 == 0:
                report(f"crops {i + 1}/{len(table)}")
        return readable_rows(
            table,
            outlined,
            named=named,
            cannot="read by the deep model",
            why=(
                "the tumour outline covers no voxel of the CT, and the deep model reads the CT "
                "around the outline"
            ),
            advice="check that the outline belongs to this CT series, correct it, and import "
            "it again",
        )

    def inputs(
        self, table: pd.DataFrame, harmoniser: CropHarmoniser | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Crops (N, 2, S, S, S) of the table's rows, harmonised by ``harmoniser`` when given,
        and their covariates (N, C), or None when the settings use none
        (:mod:`gistcad.neural.covariates`: size from each crop's mask, site from the table)."""
        crops, extents = self._read(table)
        if harmoniser is not None:
            crops = self._harmonised(harmoniser, crops, extents, table)
        if not self.settings.covariates:
            return crops, None
        return crops, self._covariates(extents, table)

    def _read(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The crops (N, 2, S, S, S) of the table's rows and their tumours' extents (N, 3)."""
        arrays, extents = [], []
        for i, row in enumerate(table.itertuples(index=False)):
            crop = self._crop(row)
            arrays.append(crop.array)
            extents.append(crop.tumour_extent_mm)
            if self.progress and i % 50 == 0:
                self.progress(f"crops {i + 1}/{len(table)}")
        return np.stack(arrays).astype(np.float32), np.stack(extents)

    def _scanner(self, extents: np.ndarray, table: pd.DataFrame) -> dict[str, Any]:
        """What the harmonisation reads of the rows besides their crops."""
        kvp = table["kvp"] if "kvp" in table else pd.Series([None] * len(table))
        return {
            "centers": list(table_centers(table)),
            "protected": protected_covariates(extents, list(table["site"])),
            "kvp": list(kvp),
        }

    def _harmonised(
        self,
        harmoniser: CropHarmoniser,
        crops: np.ndarray,
        extents: np.ndarray,
        table: pd.DataFrame,
    ) -> np.ndarray:
        return harmoniser.apply(crops, **self._scanner(extents, table))

    def fit_harmoniser(
        self, crops: np.ndarray, extents: np.ndarray, table: pd.DataFrame, rows: IntArray
    ) -> CropHarmoniser:
        """The harmonisation fitted on the training ``rows`` of ``table`` (whose crops and
        extents :meth:`_read` gave)."""
        part = table.iloc[rows]
        low, high = self.settings.crop().hu_window
        harmoniser = CropHarmoniser.fit(
            crops[rows], **self._scanner(extents[rows], part), window_hu=high - low
        )
        logger.info("%s", harmoniser.describe())
        return harmoniser

    def _covariates(self, extents: np.ndarray, table: pd.DataFrame) -> np.ndarray:
        imaging = covariate_matrix(extents, list(table["site"]))
        if not self.settings.clinical_covariates:
            return imaging
        clinical = clinical_covariates(list(table["age_at_diagnosis"]), list(table["sex"]))
        return np.hstack([imaging, clinical])

    def _train(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> dict[str, Any]:
        self._set_threads()
        centers = table["center"].to_numpy(dtype=object) if self.inner_by_center else None
        train_rows, val_rows = early_stopping_split(rows, labels, centers, self.seed)
        crops, extents = self._read(table)
        harmoniser = None
        if self.settings.harmonise:
            harmoniser = self.fit_harmoniser(crops, extents, table, np.sort(rows))
            crops = self._harmonised(harmoniser, crops, extents, table)
        covariates = self._covariates(extents, table) if self.settings.covariates else None
        genotype = genotype_labels(table)
        response = labels if self.response else None
        durations = pd.to_numeric(table["rfs_months"], errors="coerce").to_numpy(dtype=float)
        events = pd.to_numeric(table["rfs_event"], errors="coerce").fillna(0).to_numpy()
        cfg = TrainConfig(
            model=self.model_config(),
            epochs=self.settings.epochs,
            patience=self.settings.patience,
            batch_size=self.settings.batch_size,
            cox_weight=self.settings.cox_weight,
            class_weighted=self.settings.class_weighted,
            augment=self.settings.augment(),
            seed=self.seed,
            device=self.device,
            monitor=Monitor.VAL_RESPONSE_LOSS if self.response else Monitor.VAL_LOSS,
            precision=self.settings.precision,
            loader_workers=self.loader_workers,
        )

        start = None
        if covariates is not None and self.settings.covariate_start:
            start = self._covariate_start(covariates, genotype, response, np.sort(train_rows))

        members = self.settings.ensemble
        states, best_epochs = [], []
        for member in range(members):
            result = fit_network(
                crops,
                genotype,
                durations,
                events.astype(int),
                train_idx=np.sort(train_rows),
                val_idx=np.sort(val_rows),
                cfg=replace(cfg, seed=member_seed(self.seed, member)),
                covariates=covariates,
                covariate_init=start,
                response=response,
                progress=self._epoch_report(member),
                nproc=self.nproc,
            )
            states.append(result.state_dict)
            best_epochs.append(result.best_epoch)
        return {
            "members": states,
            "best_epochs": best_epochs,
            "settings": self.settings.to_dict(),
            "harmoniser": harmoniser,
        }

    def _epoch_report(self, member: int) -> Callable[[int, int, dict[str, float]], None]:
        """Progress of network ``member``'s epochs, counted over the whole ensemble's ("epoch
        13/80 (network 2 of 2) …"), so that a job's progress moves through every network."""
        members = self.settings.ensemble

        def report(epoch: int, total: int, metrics: dict[str, float]) -> None:
            if self.progress:
                which = f" (network {member + 1} of {members})" if members > 1 else ""
                self.progress(
                    f"epoch {member * total + epoch}/{members * total}{which} "
                    f"val loss {metrics.get('val_loss', 0):.3f}"
                )

        return report

    def _covariate_start(
        self,
        covariates: np.ndarray,
        genotype: IntArray,
        response: IntArray | None,
        rows: IntArray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The covariate term's start: a logistic regression of the genotype (and of the
        response, as the last row) on the covariates of the training ``rows``."""
        weights, biases = covariate_start(covariates[rows], genotype[rows], len(GENOTYPE_ORDER))
        if response is None:
            return weights, biases
        w, b = covariate_start(covariates[rows], response[rows], 2)
        return np.vstack([weights, w[1:]]), np.concatenate([biases, b[1:]])

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any:
        return self._train(table, labels, rows)

    def _model(self, fitted: Any) -> torch.nn.Module:
        """The fitted network (the first of an ensemble) on :attr:`device`."""
        return self._members(fitted)[0]

    def _members(self, fitted: Any) -> list[torch.nn.Module]:
        """The fitted networks on :attr:`device` (prediction and Grad-CAM move their inputs
        to the device of their parameters): from :meth:`fit` (state dicts), :meth:`load`
        (networks), or a single network or state dict (as fitted before ensembles)."""
        device = pick_device(self.device)
        if isinstance(fitted, torch.nn.Module):
            return [fitted.to(device)]
        if isinstance(fitted, list | tuple):
            return [model.to(device) for model in fitted]
        if "networks" in fitted:  # loaded with a harmonisation (:meth:`load`)
            return [model.to(device) for model in fitted["networks"]]
        states = fitted["members"] if "members" in fitted else [fitted["state_dict"]]
        models = []
        for state in states:
            model = build_model(self.model_config())
            model.load_state_dict(state)
            models.append(model.to(device).eval())
        return models

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> Scores:
        """Probabilities and the Cox risk score of the test rows (both evaluated)."""
        fitted = self.fit(table, labels, train)
        return self.predict(fitted, table.iloc[test])

    @staticmethod
    def harmoniser_of(fitted: Any) -> CropHarmoniser | None:
        """The fitted harmonisation (None: the version has none)."""
        if isinstance(fitted, dict):
            found = fitted.get("harmoniser")
            return found if isinstance(found, CropHarmoniser) else None
        return None

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]:
        """Every network of the ensemble in one file (a single network's as before), with the
        harmonisation when there is one (:func:`gistcad.neural.weights.ensemble_state`)."""
        path = folder / "weights.pt"
        states = fitted["members"] if "members" in fitted else [fitted["state_dict"]]
        harmoniser = self.harmoniser_of(fitted)
        extras = None if harmoniser is None else {"harmonisation": harmoniser.to_dict()}
        return path, save_weights(ensemble_state(states, extras), path)

    def load(self, path: Path, sha256: str) -> Any:
        """The saved network (a single one), or the ensemble's networks (a list); with a
        harmonisation, ``{"networks": [...], "harmoniser": CropHarmoniser}``."""
        models, extras = load_saved(path, sha256, self.model_config(), self.settings.ensemble)
        stored = extras.get("harmonisation")
        if stored is not None:
            return {"networks": models, "harmoniser": CropHarmoniser.from_dict(stored)}
        return models[0] if len(models) == 1 else models

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores:
        """Class probabilities and the risk score, averaged over the ensemble's networks and
        the test-time views (:func:`gistcad.neural.inference.predict_mean`)."""
        self._set_threads()
        crops, covariates = self.inputs(table, self.harmoniser_of(fitted))
        result = predict_mean(
            self._members(fitted),
            crops,
            batch_size=1,
            covariates=covariates,
            views=self.settings.views(),
        )
        response = result.response_probability
        return Scores(
            probabilities=self._to_target(
                np.asarray(result.probabilities, dtype=float),
                None if response is None else np.asarray(response, dtype=float),
            ),
            risk_score=np.asarray(result.risk_score, dtype=float),
        )

    def attention(self, fitted: Any, row: Any, class_index: int) -> tuple[np.ndarray, Crop]:
        """Grad-CAM of ``class_index`` for one patient, in crop space, with its crop.

        An ensemble's map is the mean of its networks' maps (each scaled to [0, 1]), on the
        crop as it is: the networks that voted, not the first alone, whose map may show
        what one seed happened to learn. The test-time views are not mapped.
        """
        crop = self._crop(row)
        one = pd.DataFrame([row._asdict()])
        covariates = None
        if self.settings.covariates:
            covariates = self._covariates(crop.tumour_extent_mm[None], one)[0]
        seen = crop  # the crop as the network sees it: harmonised when the version is
        harmoniser = self.harmoniser_of(fitted)
        if harmoniser is not None:
            array = self._harmonised(
                harmoniser, crop.array[None], crop.tumour_extent_mm[None], one
            )[0]
            seen = replace(crop, array=array)
        maps = [
            gradcam(model, seen, class_index, covariates=covariates)
            for model in self._members(fitted)
        ]
        if len(maps) == 1:
            return maps[0], crop
        return np.mean(maps, axis=0).astype(np.float32), crop


VALIDATION_FOLDS = 5


def member_seed(seed: int, member: int) -> int:
    """The training seed of network ``member`` (from 0) of an ensemble trained with ``seed``:
    the first network's is ``seed`` itself, so that an ensemble of one is the single network
    of before."""
    return (seed + member) % SEED_RANGE


def early_stopping_split(
    rows: IntArray, labels: IntArray, centers: np.ndarray | None, seed: int
) -> tuple[IntArray, IntArray]:
    """(train, validation) rows for early stopping: a stratified fifth of ``rows``.

    With ``centers`` (leave-one-center-out validation) the validation rows are whole centers:
    the first split of a stratified group 5-fold over the training centers (with two centers,
    one of them). With a single training center no center can be held out, and the split is
    the stratified fifth.
    """
    if centers is not None and np.unique(centers[rows]).size >= 2:
        groups = centers[rows]
        splitter = StratifiedGroupKFold(
            n_splits=min(VALIDATION_FOLDS, int(np.unique(groups).size)),
            shuffle=True,
            random_state=seed,
        )
        train, val = next(splitter.split(rows, labels[rows], groups))
        return rows[train], rows[val]
    train_rows, val_rows = train_test_split(
        rows,
        test_size=1 / VALIDATION_FOLDS,
        random_state=seed,
        stratify=_stratifiable(labels[rows]),
    )
    return np.asarray(train_rows), np.asarray(val_rows)


def _stratifiable(y: IntArray) -> IntArray | None:
    counts = np.bincount(y[y >= 0])
    return y if counts[counts > 0].min() >= 2 and (y >= 0).all() else None
