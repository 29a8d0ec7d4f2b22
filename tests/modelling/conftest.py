"""The modelling tests' shared cohort in the store."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
from gistcad.features.solid_part import PREFIX as SOLID
from gistcad.modelling.radiomics_model import RadiomicsSettings, cache_path
from tests.biomarkers.test_deep_risk_candidate import N, _store

#: the patient whose tumour outline has no voxel in the re-segmentation range (its cache
#: entry is the one :func:`~gistcad.modelling.radiomics_model.patient_features` writes)
CALCIFIED = "P-007"


@pytest.fixture
def cached_cohort(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, Path, dict[str, Any]]:
    """The discovery tests' planted cohort of N patients in the store, with its radiomics
    features cached for both pipelines (the whole tumour's, and the solid part's too), and
    :data:`CALCIFIED`'s cached as none: the engine, the data folder and the planted truth."""
    monkeypatch.setenv("GISTCAD_CLUSTER", "off")  # the cached features are read here
    truth = _store(engine, tmp_path)
    for row in range(N):  # the logistic pipeline's settings: the same, but no solid part
        case = SimpleNamespace(volume_sha256=f"{row:064x}", mask_sha256=f"{row + N:064x}")
        cached = cache_path(tmp_path, case, CANDIDATE_SETTINGS)
        undescribed = row == int(CALCIFIED[2:])
        if undescribed:
            cached.write_text("{}")
        whole = {k: v for k, v in json.loads(cached.read_text()).items() if not k.startswith(SOLID)}
        cache_path(tmp_path, case, RadiomicsSettings()).write_text(json.dumps(whole))
    return engine, tmp_path, truth
