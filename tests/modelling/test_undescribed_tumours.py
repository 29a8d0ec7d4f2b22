"""A tumour outline with no voxel in the re-segmentation range (-150 to 400 HU), or with no
voxel at all (an empty mask, or one finer than the resampled voxels): it has no radiomics
feature, so its patient is left out of training, prediction of the whole cohort and
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
from sqlalchemy import Engine, select

from gistcad import jobs
from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
from gistcad.domain import JobStatus, ModelKind
from gistcad.errors import ValidationError
from gistcad.features import EmptyIntensityMaskError, FeatureSettings, extract_features
from gistcad.modelling.current import predict_with_current_models
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
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import Job, Patient, Prediction
from tests.biomarkers.test_deep_risk_candidate import N, _discover
from tests.modelling.conftest import CALCIFIED

EVERYTHING = AccessScope.everything()


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
    # one voxel at 0.7 mm: no 1.5 mm voxel of the resampled region falls inside it
    single = np.zeros((17, 17, 17), dtype=bool)
    single[8, 8, 8] = True
    assert tumour_features(np.full(single.shape, 60.0), single, (0.7,) * 3, settings) is None
    # through the data folder: the patient's features are none, cached as none
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(image.astype(np.int16), affine), tmp_path / "ct.nii.gz")
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), affine), tmp_path / "mask.nii.gz")
    case = CaseImages("ct.nii.gz", "mask.nii.gz", "a" * 64, "b" * 64)
    assert patient_features(tmp_path, case, settings) == {}
    assert cache_path(tmp_path, case, settings).read_text() == "{}"
    assert patient_features(tmp_path, case, settings) == {}  # read back from the cache
    # an outline without any voxel (a contour smaller than the CT's voxels): none, cached
    nib.save(nib.Nifti1Image(np.zeros_like(mask, np.uint8), affine), tmp_path / "empty.nii.gz")
    empty = CaseImages("ct.nii.gz", "empty.nii.gz", "a" * 64, "c" * 64)
    assert patient_features(tmp_path, empty, settings) == {}
    assert cache_path(tmp_path, empty, settings).read_text() == "{}"


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
    assert described_patients(table, features.fillna(0.0), settings, named=True).equals(table)


def _prediction_ids(engine: Engine, version_id: int) -> dict[int, int]:
    """Patient id → prediction row id of one version."""
    with session_scope(engine) as session:
        stmt = select(Prediction.patient_id, Prediction.id).where(
            Prediction.model_version_id == version_id
        )
        return {int(p): int(i) for p, i in session.execute(stmt)}


def test_training_prediction_and_discovery_go_on_without_the_undescribed_patient(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = cached_cohort
    request = TrainRequest(ModelKind.RADIOMICS, Target.RFS, seed=2)
    with session_scope(engine) as session:
        version = train(session, EVERYTHING, data_dir, request)
        version_id, metrics = version.id, version.metrics
    assert metrics["n_patients"] == N - 1
    assert metrics["undescribed_patients"] == [CALCIFIED]
    assert CALCIFIED not in {row["pseudonym"] for row in metrics["oof"]}
    assert "**Left out:** 1 patient(s) whose tumour outline" in metrics["card"]
    with session_scope(engine) as session:
        run = predict(session, EVERYTHING, data_dir, version_id)
    assert run.written == N - 1
    assert run.text("rfs-score") == (
        f"{N - 1} predictions written by rfs-score (1 patient(s) left out, whose tumour outline "
        f"has no voxel in the range radiomics describes, or none at all: {CALCIFIED})"
    )
    before = _prediction_ids(engine, version_id)
    with (
        session_scope(engine) as session,
        pytest.raises(ValidationError, match=rf"described by radiomics \({CALCIFIED}\)"),
    ):
        predict(session, EVERYTHING, data_dir, version_id, ["P-001", CALCIFIED])
    assert _prediction_ids(engine, version_id) == before  # the refused request wrote nothing
    assert len(before) == N - 1
    # the patients of a center are a selection, not names: the undescribed one is left out
    with session_scope(engine) as session:
        table = modelling_table(session, EVERYTHING)
        center = str(table.loc[table["pseudonym"] == CALCIFIED, "center"].iloc[0])
        run = predict(session, EVERYTHING, data_dir, version_id, centers=[center])
    assert run.written == int((table["center"] == center).sum()) - 1
    assert run.left_out[next(iter(run.left_out))] == [CALCIFIED]
    found = _discover(engine, data_dir, None)
    assert found.discovery.n == N - 1
    assert CALCIFIED not in set(found.patients["pseudonym"])
    assert any("1 patient(s) left out: no voxel of the tumour outline" in n for n in found.notes)


def test_an_earlier_prediction_of_a_patient_left_out_is_removed(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
) -> None:
    """The patient's outline was replaced by one radiomics cannot describe: the version's
    prediction of the earlier outline no longer holds, and a cohort prediction removes it."""
    engine, data_dir, _ = cached_cohort
    calcified = int(CALCIFIED[2:])
    case = SimpleNamespace(volume_sha256=f"{calcified:064x}", mask_sha256=f"{calcified + N:064x}")
    cached = cache_path(data_dir, case, CANDIDATE_SETTINGS)
    another = SimpleNamespace(volume_sha256=f"{1:064x}", mask_sha256=f"{1 + N:064x}")
    # the earlier outline: described (as another patient's tumour is)
    cached.write_text(cache_path(data_dir, another, CANDIDATE_SETTINGS).read_text())
    request = TrainRequest(ModelKind.RADIOMICS, Target.RFS, seed=2)
    with session_scope(engine) as session:
        version_id = train(session, EVERYTHING, data_dir, request).id
        assert predict(session, EVERYTHING, data_dir, version_id).written == N
        patient = session.scalars(select(Patient.id).where(Patient.pseudonym == CALCIFIED)).one()
    assert patient in _prediction_ids(engine, version_id)
    cached.write_text("{}")  # the new outline
    # as a prediction job of the whole cohort: its message names the patient left out
    job = jobs.submit(engine, "predict", {"model_version_id": version_id}, EVERYTHING)
    assert jobs.run(engine, data_dir, job) is JobStatus.SUCCEEDED
    with session_scope(engine) as session:
        message = session.get(Job, job).message  # type: ignore[union-attr]
    assert message == (
        f"{N - 1} predictions written (1 patient(s) left out, whose tumour outline has no voxel "
        f"in the range radiomics describes, or none at all: {CALCIFIED})"
    )
    after = _prediction_ids(engine, version_id)
    assert patient not in after and len(after) == N - 1


def test_a_case_prediction_answers_the_genotype_when_the_survival_score_cannot(
    cached_cohort: tuple[Engine, Path, dict[str, Any]],
) -> None:
    engine, data_dir, _ = cached_cohort
    with session_scope(engine) as session:
        train(session, EVERYTHING, data_dir, TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE))
        train(session, EVERYTHING, data_dir, TrainRequest(ModelKind.RADIOMICS, Target.RFS))
    with session_scope(engine) as session:
        done = predict_with_current_models(session, EVERYTHING, data_dir, [CALCIFIED])
    assert [(v.question, run.written) for v, run in done] == [
        ("genotype", 1),
        ("imaging risk score", 0),
    ]
    assert done[0][1].left_out == {}
    assert done[1][1].text("r") == (
        f"0 predictions written by r (1 patient(s) left out, because no voxel of the tumour "
        "outline lies between -150 and 400 HU, the range radiomics describes, or the outline "
        "covers no voxel of the CT at all (or none at the 1.5 mm voxels radiomics resamples "
        f"to): {CALCIFIED})"
    )
