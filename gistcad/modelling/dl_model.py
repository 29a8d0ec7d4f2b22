"""The deep model as a learner: tumour-centred crops into the MONAI network of :mod:`gistcad.model`.

Crops (CT and mask channels, see :func:`gistcad.model.crop.tumour_crop`) are cached on disk by
the image and mask checksums and the crop settings. Each fit holds out a stratified fifth of
its training rows as the validation fold for early stopping. Besides the class
probabilities, the network's Cox head gives an imaging risk score (higher = earlier
recurrence). The demo settings (32³ crops, at most 12 epochs) keep training to minutes on two
CPU cores; ``DlSettings`` holds larger ones for real studies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

from gistcad.domain import ModelKind
from gistcad.imaging import read_nifti
from gistcad.model.crop import Crop, CropSettings, tumour_crop
from gistcad.model.crop_cache import CropCache
from gistcad.model.gradcam import gradcam
from gistcad.model.inference import predict
from gistcad.model.network import GENOTYPE_ORDER, KIT11_INDEX, ModelConfig, build_model
from gistcad.model.training import TrainConfig, train_model
from gistcad.model.weights import load_model, save_weights
from gistcad.modelling.learners import IntArray, Scores
from gistcad.modelling.targets import genotype_labels

CROPS_DIRNAME = "crops"


@dataclass(frozen=True)
class DlSettings:
    """Crop size and training budget of the deep model."""

    crop_size: int = 32
    epochs: int = 12
    patience: int = 4
    batch_size: int = 8
    threads: int = 2

    def crop(self) -> CropSettings:
        return CropSettings(size=self.crop_size)


@dataclass
class DlLearner:
    """MONAI EfficientNet-B0 on tumour crops, with a Cox risk head.

    The network always learns the four genotype classes (and the risk score); for the
    ``kit11`` target its probabilities are folded into KIT exon 11 vs rest. The ``risk``
    target (a class) is left to the clinical and radiomics models: the deep model's risk
    output is the continuous Cox score.
    """

    n_classes: int
    data_dir: Path
    seed: int = 0
    settings: DlSettings = field(default_factory=DlSettings)
    progress: Callable[[str], None] | None = None
    kind: ModelKind = ModelKind.DL

    def model_config(self) -> ModelConfig:
        return ModelConfig(crop_size=self.settings.crop_size, n_classes=len(GENOTYPE_ORDER))

    def _to_target(self, probabilities: np.ndarray) -> np.ndarray:
        if self.n_classes == len(GENOTYPE_ORDER):
            return probabilities
        kit11 = probabilities[:, KIT11_INDEX]
        return np.column_stack([1 - kit11, kit11])

    def _crop(self, row: Any) -> Crop:
        cache = CropCache(self.data_dir / CROPS_DIRNAME)
        crop_settings = self.settings.crop()

        def make() -> Crop:
            image = read_nifti(self.data_dir / row.volume_path)
            mask = read_nifti(self.data_dir / row.mask_path)
            return tumour_crop(image, mask, crop_settings)

        return cache.get_or_make(row.volume_sha256, row.mask_sha256, crop_settings, make)

    def crops(self, table: pd.DataFrame) -> np.ndarray:
        """(N, 2, S, S, S) float32 crops of the table's rows."""
        arrays = []
        for i, row in enumerate(table.itertuples(index=False)):
            arrays.append(self._crop(row).array)
            if self.progress and i % 50 == 0:
                self.progress(f"crops {i + 1}/{len(table)}")
        return np.stack(arrays).astype(np.float32)

    def _train(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> dict[str, Any]:
        torch.set_num_threads(self.settings.threads)
        train_rows, val_rows = train_test_split(
            rows, test_size=0.2, random_state=self.seed, stratify=_stratifiable(labels[rows])
        )
        crops = self.crops(table)
        genotype = genotype_labels(table)
        durations = pd.to_numeric(table["rfs_months"], errors="coerce").to_numpy(dtype=float)
        events = pd.to_numeric(table["rfs_event"], errors="coerce").fillna(0).to_numpy()
        cfg = TrainConfig(
            model=self.model_config(),
            epochs=self.settings.epochs,
            patience=self.settings.patience,
            batch_size=self.settings.batch_size,
            seed=self.seed,
            device="cpu",
        )

        def report(epoch: int, total: int, metrics: dict[str, float]) -> None:
            if self.progress:
                self.progress(f"epoch {epoch}/{total} val loss {metrics.get('val_loss', 0):.3f}")

        result = train_model(
            crops,
            genotype,
            durations,
            events.astype(int),
            train_idx=np.sort(train_rows),
            val_idx=np.sort(val_rows),
            cfg=cfg,
            progress=report,
        )
        return {
            "state_dict": result.state_dict,
            "best_epoch": result.best_epoch,
            "settings": asdict(self.settings),
        }

    def fit(self, table: pd.DataFrame, labels: IntArray, rows: IntArray) -> Any:
        return self._train(table, labels, rows)

    def _model(self, fitted: Any) -> torch.nn.Module:
        if isinstance(fitted, torch.nn.Module):
            return fitted
        model = build_model(self.model_config())
        model.load_state_dict(fitted["state_dict"])
        return model.eval()

    def fit_predict(
        self, table: pd.DataFrame, labels: IntArray, train: IntArray, test: IntArray
    ) -> Scores:
        """Probabilities and the Cox risk score of the test rows (both evaluated)."""
        fitted = self.fit(table, labels, train)
        return self.predict(fitted, table.iloc[test])

    def save(self, fitted: Any, folder: Path) -> tuple[Path, str]:
        path = folder / "weights.pt"
        return path, save_weights(fitted["state_dict"], path)

    def load(self, path: Path, sha256: str) -> Any:
        return load_model(path, sha256, self.model_config())

    def predict(self, fitted: Any, table: pd.DataFrame) -> Scores:
        torch.set_num_threads(self.settings.threads)
        result = predict(self._model(fitted), self.crops(table), batch_size=1)
        return Scores(
            probabilities=self._to_target(np.asarray(result.probabilities, dtype=float)),
            risk_score=np.asarray(result.risk_score, dtype=float),
        )

    def attention(self, fitted: Any, row: Any, class_index: int) -> tuple[np.ndarray, Crop]:
        """Grad-CAM of ``class_index`` for one patient, in crop space, with its crop."""
        crop = self._crop(row)
        return gradcam(self._model(fitted), crop, class_index), crop


def _stratifiable(y: IntArray) -> IntArray | None:
    counts = np.bincount(y[y >= 0])
    return y if counts[counts > 0].min() >= 2 and (y >= 0).all() else None
