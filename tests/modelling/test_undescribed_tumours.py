"""A tumour outline with no voxel in the re-segmentation range (-150 to 400 HU): it has no
radiomics feature, so its patient is left out of training, prediction of the whole cohort and
discovery, with a note, and refused by name; the rest of the cohort goes on.

The cohort is the one of the discovery tests (radiomics features in the feature cache); the
undescribed patient's cache entry is the one :func:`patient_features` writes for such a tumour
(shown on a real image below).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
from gistcad.domain import ModelKind
from gistcad.errors import ValidationError
from gistcad.features import EmptyIntensityMaskError, FeatureSettings, extract_features
from gistcad.modelling.harmonisation import KvpUse
from gistcad.modelling.radiomics_model import (
    CaseImages,
    RadiomicsSettings,
    cache_path,
    described_patients,
    patient_features,
    tumour_features,
)
from gistcad.modelling.radiomics_search import KVP_COLUMNS
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import predict, train
from gistcad.store import AccessScope, session_scope
from gistcad.store.models import Prediction
from tests.biomarkers.test_deep_risk_candidate import N, _discover, _store

EVERYTHING = AccessScope.everything()
CALCIFIED = "P-007"


def _ball(hu_inside: float) -> tuple[np.ndarray, np.ndarray]:
    """A 24³ image at 40 HU with a ball of radius 8 voxels at ``hu_inside``, and a mask of
    radius 6 in it (so the resampling blends no 40 HU into the tumour)."""
    r2 = ((np.indices((24, 24, 24)) - 11.5) ** 2).sum(axis=0)
    mask = r2 <= 36
    image = np.full(mask.shape, 40.0)
    image[r2 <= 64] = hu_inside
    return image, mask


def test_a_tumour_calcified_through_has_no_features_and_its_cache_says_so(
    tmp_path: Path,
) -> None:
    settings = RadiomicsSettings(solid_part=True)
    image, mask = _ball(1200.0)  # every voxel of the tumour above 400 HU
    assert tumour_features(image, mask, (1.0, 1.0, 1.0), settings) is None
    with pytest.raises(EmptyIntensityMaskError, match="re-segmentation range"):
        extract_features(image, mask, (1.0, 1.0, 1.0), FeatureSettings.ct(25.0, (-150, 400)))
    described = tumour_features(*_ball(60.0), (1.0, 1.0, 1.0), settings)
    assert described is not None and len(described) > 100
    # through the data folder: the patient's features are none, cached as none
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(image.astype(np.int16), affine), tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), tmp_path / "mask.nii.gz")
    case = CaseImages("ct.nii.gz", "mask.nii.gz", "a" * 64, "b" * 64)
    assert patient_features(tmp_path, case, settings) == {}
    assert cache_path(tmp_path, case, settings).read_text() == "{}"
    assert patient_features(tmp_path, case, settings) == {}  # read back from the cache


def test_patients_without_features_are_left_out_or_refused_by_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = RadiomicsSettings()
    table = pd.DataFrame({"pseudonym": ["P-1", "P-2", "P-3"]})
    kvp = KVP_COLUMNS[KvpUse.ADJUST]
    features = pd.DataFrame({"a": [1.0, np.nan, 3.0], kvp: [120.0, 120.0, 100.0]})
    with caplog.at_level(logging.WARNING):
        kept = described_patients(table, features, settings, named=False)
    assert list(kept["pseudonym"]) == ["P-1", "P-3"]  # kVp alone does not describe a tumour
    assert (
        "1 patient(s) left out (P-2): no voxel of the tumour outline lies between -150 and "
        "400 HU" in caplog.text
    )
    with pytest.raises(ValidationError, match=r"cannot be described by radiomics \(P-2\)"):
        described_patients(table, features, settings, named=True)
    nothing = features.assign(a=np.nan)
    with pytest.raises(ValidationError, match=r"3 patient\(s\) cannot be described"):
        described_patients(table, nothing, settings, named=False)
    assert described_patients(table, features.fillna(0.0), settings, named=True) is table


@pytest.fixture
def stored(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, Path, dict[str, Any]]:
    monkeypatch.setenv("GISTCAD_CLUSTER", "off")  # the cached features are read here
    truth = _store(engine, tmp_path)
    row = int(CALCIFIED[2:])
    case = SimpleNamespace(volume_sha256=f"{row:064x}", mask_sha256=f"{row + N:064x}")
    cache_path(tmp_path, case, CANDIDATE_SETTINGS).write_text("{}")
    return engine, tmp_path, truth


def test_training_prediction_and_discovery_go_on_without_the_undescribed_patient(
    stored: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = stored
    request = TrainRequest(ModelKind.RADIOMICS, Target.RFS, seed=2)
    with session_scope(engine) as session:
        version = train(session, EVERYTHING, data_dir, request)
        version_id, metrics = version.id, version.metrics
    assert metrics["n_patients"] == N - 1
    assert metrics["undescribed_patients"] == [CALCIFIED]
    assert CALCIFIED not in {row["pseudonym"] for row in metrics["oof"]}
    assert "**Left out:** 1 patient(s) whose tumour outline" in metrics["card"]
    with session_scope(engine) as session:
        assert predict(session, EVERYTHING, data_dir, version_id) == N - 1
        with pytest.raises(ValidationError, match=rf"described by radiomics \({CALCIFIED}\)"):
            predict(session, EVERYTHING, data_dir, version_id, ["P-001", CALCIFIED])
    with session_scope(engine) as session:
        stmt = select(func.count()).where(Prediction.model_version_id == version_id)
        assert session.scalar(stmt) == N - 1  # the refused request wrote nothing
    found = _discover(engine, data_dir, None)
    assert found.discovery.n == N - 1
    assert CALCIFIED not in set(found.patients["pseudonym"])
    assert any("1 patient(s) left out: no voxel of the tumour outline" in n for n in found.notes)
