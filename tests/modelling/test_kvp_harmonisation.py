"""The tube voltage (kVp) in ComBat: removed like a scanner effect, size kept; imputed by the
center's median; read from the modelling table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.modelling.harmonisation import ComBat, KvpUse
from gistcad.modelling.radiomics_model import RadiomicsSettings, cache_path, feature_table
from gistcad.modelling.radiomics_search import KVP_COLUMNS, Preprocessing
from gistcad.modelling.risk_score_model import RiskScoreLearner
from gistcad.store import AccessScope
from gistcad.store.model_queries import modelling_table
from gistcad.store.models import Series
from tests.factories import seed_cohort

SIZE_SLOPE, KVP_SLOPE = 0.5, 0.04  # per cm, per kV (about 1.6 over 100 → 140 kV)


def _scans(n: int = 300, seed: int = 0, noise: float = 0.3) -> pd.DataFrame:
    """Three centers, each scanning at 100, 120 and 140 kV in its own proportions; four
    features with a center shift and scale, a planted size effect and a planted kVp effect
    (and noise of SD ``noise``)."""
    rng = np.random.default_rng(seed)
    center = np.array(["A", "B", "C"])[np.arange(n) % 3]
    mix = {"A": [0.6, 0.3, 0.1], "B": [0.2, 0.6, 0.2], "C": [0.1, 0.3, 0.6]}
    kvp = np.array([rng.choice([100.0, 120.0, 140.0], p=mix[c]) for c in center])
    size = rng.uniform(2, 15, n)
    shift = {"A": 0.0, "B": 2.0, "C": -1.5}
    scale = {"A": 1.0, "B": 1.5, "C": 0.7}
    features = {}
    for g in range(4):
        spread = rng.normal(0, noise, n) * np.array([scale[c] for c in center])
        features[f"f{g}"] = (
            np.array([shift[c] for c in center]) * (g + 1)
            + SIZE_SLOPE * (g + 1) * size
            + KVP_SLOPE * (g + 1) * (kvp - 120.0)
            + spread
        )
    return pd.DataFrame({"center": center, "kvp": kvp, "size_cm": size, **features})


def _slopes(y: np.ndarray, scans: pd.DataFrame) -> tuple[float, float]:
    """Size and kVp slopes of ``y`` by least squares with a center intercept each."""
    dummies = pd.get_dummies(scans["center"]).to_numpy(float)
    design = np.column_stack([dummies, scans["size_cm"], scans["kvp"]])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return float(coef[-2]), float(coef[-1])


def test_combat_removes_a_planted_kvp_effect_and_keeps_the_protected_size() -> None:
    scans = _scans()
    x = scans[[f"f{g}" for g in range(4)]].to_numpy()
    centers = scans["center"].to_numpy(dtype=object)
    size, kvp = scans[["size_cm"]].to_numpy(), scans[["kvp"]].to_numpy()
    adjusted = ComBat().fit_transform(x, centers, size, adjust=kvp)
    ignored = ComBat().fit_transform(x, centers, size)
    protected = ComBat().fit_transform(x, centers, np.hstack([size, kvp]))
    for g in range(4):
        size_slope, kvp_slope = _slopes(adjusted[:, g], scans)
        assert size_slope == pytest.approx(SIZE_SLOPE * (g + 1), rel=0.1)
        assert abs(kvp_slope) < 0.1 * KVP_SLOPE * (g + 1)
        # without it, the within-center kVp effect survives ComBat; protected, it is kept
        assert _slopes(ignored[:, g], scans)[1] == pytest.approx(KVP_SLOPE * (g + 1), rel=0.2)
        assert _slopes(protected[:, g], scans)[1] == pytest.approx(KVP_SLOPE * (g + 1), rel=0.2)


def _clinical(scans: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"clin_log_size": np.log(scans["size_cm"])})


def test_the_preprocessing_reads_kvp_from_its_column_and_never_as_a_feature() -> None:
    scans = _scans(n=600, noise=1.5)  # noisier: no feature is a near-duplicate of log size
    centers = scans["center"].to_numpy(dtype=object)
    image = scans[["f0", "f1", "f2", "f3"]].assign(**{KVP_COLUMNS[KvpUse.ADJUST]: scans["kvp"]})
    prep = Preprocessing().fit(image, _clinical(scans), centers)
    assert prep.kvp_use_ is KvpUse.ADJUST
    assert not any("kvp" in name for name in prep.names_)
    out = pd.DataFrame(prep.transform(image, _clinical(scans), centers), columns=prep.names_)
    plain = Preprocessing().fit(scans[["f0", "f1", "f2", "f3"]], _clinical(scans), centers)
    kept = pd.DataFrame(
        plain.transform(scans[["f0", "f1", "f2", "f3"]], _clinical(scans), centers),
        columns=plain.names_,
    )
    feature = next(n for n in prep.names_ if n.startswith("f"))
    # scaled features: compare each kVp slope with the same feature's size slope
    size_slope, kvp_slope = _slopes(out[feature].to_numpy(), scans)
    plain_size, plain_kvp = _slopes(kept[feature].to_numpy(), scans)
    assert abs(kvp_slope / size_slope) < 0.1 * abs(plain_kvp / plain_size)


def test_a_missing_kvp_is_imputed_by_its_centers_training_median() -> None:
    scans = _scans(seed=1)
    centers = scans["center"].to_numpy(dtype=object)
    column = KVP_COLUMNS[KvpUse.ADJUST]
    missing = scans["kvp"].where(np.arange(len(scans)) % 7 != 0)  # every seventh unknown
    image = scans[["f0", "f1", "f2", "f3"]].assign(**{column: missing})
    prep = Preprocessing().fit(image, _clinical(scans), centers)
    medians = missing.groupby(scans["center"]).median()
    assert prep.kvp_medians_ == pytest.approx(medians.to_dict())
    filled = image.assign(**{column: missing.fillna(scans["center"].map(medians))})
    np.testing.assert_allclose(
        prep.transform(image, _clinical(scans), centers),
        prep.transform(filled, _clinical(scans), centers),
    )
    # a center not seen at fitting takes the pooled training median
    new = image.head(2).assign(**{column: np.nan})
    pooled = new.assign(**{column: float(missing.median())})
    other = np.array(["D", "D"], dtype=object)
    np.testing.assert_allclose(
        prep.transform(new, _clinical(scans.head(2)), other),
        prep.transform(pooled, _clinical(scans.head(2)), other),
    )


def test_a_kvp_constant_within_every_center_is_left_to_the_batch_terms() -> None:
    scans = _scans()
    centers = scans["center"].to_numpy(dtype=object)
    per_center = scans["center"].map({"A": 100.0, "B": 120.0, "C": 140.0})
    image = scans[["f0", "f1"]].assign(**{KVP_COLUMNS[KvpUse.ADJUST]: per_center})
    prep = Preprocessing().fit(image, _clinical(scans), centers)
    assert prep.kvp_use_ is KvpUse.IGNORE


def test_kvp_is_adjusted_by_default_and_does_not_change_the_feature_cache() -> None:
    assert RadiomicsSettings().kvp is KvpUse.ADJUST
    assert RadiomicsSettings(kvp=KvpUse.IGNORE).key() == RadiomicsSettings().key()


def test_the_modelling_table_carries_each_series_kvp(engine: Engine) -> None:
    with Session(engine) as s:
        seed_cohort(s, n=6, with_series=True)
        first = s.scalars(select(Series).order_by(Series.id)).first()
        assert first is not None
        first.kvp = 120.0
        s.flush()
        table = modelling_table(s, AccessScope.everything())
        kvp = table.set_index("series_id")["kvp"]
        assert kvp[first.id] == 120.0
        assert kvp.drop(first.id).isna().all()


def _cached_cohort(data_dir: Path, scans: pd.DataFrame) -> pd.DataFrame:
    """A modelling table whose features are already in the cache (no image is read)."""
    settings = RadiomicsSettings(solid_part=True)
    rows = scans.assign(
        pseudonym=[f"P-{i:03d}" for i in range(len(scans))],
        volume_path="v.nii.gz",
        mask_path="m.nii.gz",
        volume_sha256=[f"v{i}" for i in range(len(scans))],
        mask_sha256=[f"m{i}" for i in range(len(scans))],
        site="stomach",
        age_at_diagnosis=60.0,
        sex="female",
        rfs_months=np.linspace(5, 100, len(scans)),
        rfs_event=(np.arange(len(scans)) % 3 == 0).astype(float),
    )
    for row in rows.itertuples(index=False):
        path = cache_path(data_dir, row, settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({f"f{g}": getattr(row, f"f{g}") for g in range(4)}))
    return rows


def test_the_features_carry_kvp_to_the_imaging_risk_scores_combat(tmp_path: Path) -> None:
    scans = _scans(n=90, noise=1.5)
    table = _cached_cohort(tmp_path, scans)
    features = feature_table(table, tmp_path, RadiomicsSettings(solid_part=True))
    np.testing.assert_array_equal(features[KVP_COLUMNS[KvpUse.ADJUST]], scans["kvp"])
    ignored = RadiomicsSettings(solid_part=True, kvp=KvpUse.IGNORE)
    assert list(feature_table(table, tmp_path, ignored).columns) == ["f0", "f1", "f2", "f3"]
    learner = RiskScoreLearner(n_classes=2, data_dir=tmp_path, grid=(1.0,))
    fitted = learner.fit(table, np.zeros(len(table), dtype=int), np.arange(len(table)))
    assert fitted["preprocessing"].kvp_use_ is KvpUse.ADJUST
    assert not any("kvp" in name for name in fitted["features"])
