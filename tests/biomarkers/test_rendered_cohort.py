"""The CT shortcut of the discovery bench against the real path: build, import, features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from gistcad.biomarkers.discovery import candidate_features
from gistcad.biomarkers.simulation import rendered_cohort
from gistcad.demo_cohort import import_demo_cohort
from gistcad.store import AccessScope, session_scope
from gistcad.store.model_queries import modelling_table
from gistcad.store.queries import cohort_table
from gistcad.synth.build import BuildOptions, build_cohort

EVERYTHING = AccessScope.everything()
OPTIONS = {"patients": 5, "centers": 3, "seed": 4, "signal": 1.0, "matrix": 64}
SCAN_MM = 50.0


def _by_volume(features: pd.DataFrame) -> pd.DataFrame:
    return features.sort_values("morph_volume", kind="stable").reset_index(drop=True)


def test_rendered_features_are_those_of_the_built_and_imported_cohort(
    engine: Engine, tmp_path: Path
) -> None:
    folder, data = tmp_path / "cohort", tmp_path / "data"
    build_cohort(
        BuildOptions(out=folder, workers=1, follow_up=False, scan_length_mm=SCAN_MM, **OPTIONS)
    )
    data.mkdir()
    reports = import_demo_cohort(engine, data, EVERYTHING, folder)
    assert all(r.ok for r in reports), [str(p) for r in reports for p in r.problems]
    with session_scope(engine) as session:
        table = modelling_table(session, EVERYTHING)
        outcomes = cohort_table(session, EVERYTHING, columns=["rfs_months", "rfs_event"])
    imported = candidate_features(table[table["mask_path"].notna()], data)

    rendered = rendered_cohort(
        OPTIONS["patients"],
        signal=OPTIONS["signal"],
        seed=OPTIONS["seed"],
        centers=OPTIONS["centers"],
        matrix=OPTIONS["matrix"],
        scan_length_mm=SCAN_MM,
        workers=1,
    )
    cohort = rendered.cohort
    assert len(imported) == len(cohort.features) == OPTIONS["patients"]
    assert list(cohort.features.columns) == list(imported.columns)
    np.testing.assert_allclose(
        _by_volume(cohort.features).to_numpy(),
        _by_volume(imported).to_numpy(),
        rtol=1e-6,
        atol=1e-9,
        equal_nan=True,
    )
    # the survival is the clinical table's (the import rounds months to the CSV's 2 decimals)
    np.testing.assert_allclose(
        np.sort(cohort.durations), np.sort(outcomes["rfs_months"].to_numpy(float)), atol=0.006
    )
    assert cohort.events.sum() == outcomes["rfs_event"].sum()
    assert list(cohort.covariates.columns)[:2] == ["log_size", "log_mitoses"]
    assert rendered.trait_z.shape == (OPTIONS["patients"],)
