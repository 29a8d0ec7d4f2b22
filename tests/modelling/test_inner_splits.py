"""Inner splits under leave-one-center-out validation keep centers apart: the deep model's
early-stopping validation rows and the radiomics model's tuning folds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gistcad.modelling import radiomics_model
from gistcad.modelling.dl_model import early_stopping_split
from gistcad.modelling.radiomics_model import RadiomicsLearner


def _rows(n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.arange(n, dtype=np.int64)
    labels = (rows % 3 == 0).astype(np.int64)
    centers = np.array([f"C{i % 4}" for i in rows], dtype=object)
    return rows, labels, centers


def test_early_stopping_holds_out_whole_centers_under_leave_one_center_out() -> None:
    rows, labels, centers = _rows()
    train, val = early_stopping_split(rows, labels, centers, seed=0)
    assert not set(centers[train]) & set(centers[val])
    assert sorted([*train, *val]) == list(rows)
    assert set(labels[val]) == {0, 1}


def test_early_stopping_split_is_a_stratified_fifth_otherwise() -> None:
    rows, labels, centers = _rows()
    for given in (None, np.array(["only"] * rows.size, dtype=object)):
        train, val = early_stopping_split(rows, labels, given, seed=0)
        assert len(val) == 24 and not set(train) & set(val)
        assert int(labels[val].sum()) == 8  # a third of the validation rows, as of all rows
    # with centers, the split is by center: the plain one mixes them
    train, val = early_stopping_split(rows, labels, None, seed=0)
    assert set(centers[train]) & set(centers[val])


@pytest.mark.parametrize(("by_center", "inner_folds"), [(True, 4), (False, 3)])
def test_the_logistic_radiomics_tuning_leaves_one_training_center_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, by_center: bool, inner_folds: int
) -> None:
    rows, labels, centers = _rows()
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(rows.size, 60)), columns=[f"f{i}" for i in range(60)])
    features["f0"] += labels
    table = pd.DataFrame({"center": centers})
    learner = RadiomicsLearner(n_classes=2, data_dir=tmp_path, inner_by_center=by_center)
    monkeypatch.setattr(learner, "_features", lambda part: features.loc[part.index])
    searches: list[Any] = []
    build = radiomics_model.build_radiomics_model

    def recorded(seed: int = 0, *, by_center: bool = False) -> Any:
        searches.append(build(seed, by_center=by_center))
        return searches[-1]

    monkeypatch.setattr(radiomics_model, "build_radiomics_model", recorded)
    fitted = learner.fit(table, labels, rows)
    assert fitted["best_params"]["select__k"] in (5, 20, 50)
    (search,) = searches
    assert search.n_splits_ == inner_folds  # four training centers: four inner folds
    if by_center:
        for train, test in search.cv.split(features, labels, centers):
            assert not set(centers[train]) & set(centers[test])
