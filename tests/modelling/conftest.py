"""The modelling tests' shared cohort in the store."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine

from gistcad.biomarkers.discovery import CANDIDATE_SETTINGS
from gistcad.modelling.radiomics_model import cache_path
from tests.biomarkers.test_deep_risk_candidate import N, _store

#: the patient whose tumour outline has no voxel in the re-segmentation range (its cache
#: entry is the one :func:`~gistcad.modelling.radiomics_model.patient_features` writes)
CALCIFIED = "P-007"


@pytest.fixture
def cached_cohort(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Engine, Path, dict[str, Any]]:
    """The discovery tests' planted cohort of N patients in the store, with its radiomics
    features cached under the settings with the solid part (the logistic pipeline reads them
    without it), and :data:`CALCIFIED`'s cached as none: the engine, the data folder and the
    planted truth."""
    monkeypatch.setenv("GISTCAD_CLUSTER", "off")  # the cached features are read here
    truth = _store(engine, tmp_path)
    calcified = int(CALCIFIED[2:])
    case = SimpleNamespace(volume_sha256=f"{calcified:064x}", mask_sha256=f"{calcified + N:064x}")
    cache_path(tmp_path, case, CANDIDATE_SETTINGS).write_text("{}")
    return engine, tmp_path, truth
