"""The deep model's harmonisation: ComBat of the tumour's CT level per center, fitted on the
training rows, stored with the networks (gistcad.modelling.crop_harmonisation)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from gistcad.domain import GenotypeDetail, Site
from gistcad.modelling.crop_harmonisation import (
    CropHarmoniser,
    protected_covariates,
    summary_text,
    tumour_levels,
)
from gistcad.modelling.dl_model import DlLearner, DlSettings
from gistcad.modelling.targets import Target, labels_for
from gistcad.modelling.trainer import _inputs_text
from gistcad.neural.network import Architecture
from tests.modelling.test_learner_contract import _patient_images

S = 8  # crop side of the array tests
WINDOW_HU = 400.0


def _crops(levels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Crops whose tumour (a cube in the middle, mask 1) has its voxels spread about
    ``levels`` and whose surroundings are random."""
    crops = np.zeros((len(levels), 2, S, S, S), dtype=np.float32)
    crops[:, 0] = rng.uniform(0.0, 0.3, (len(levels), S, S, S))
    crops[:, 1, 2:6, 2:6, 2:6] = 1.0
    inside = rng.normal(0.0, 0.01, (len(levels), 4, 4, 4))
    crops[:, 0, 2:6, 2:6, 2:6] = levels[:, None, None, None] + inside
    return crops


def _extents(sizes_mm: np.ndarray) -> np.ndarray:
    return np.column_stack([sizes_mm, sizes_mm * 0.8, sizes_mm * 0.6])


def test_a_centers_offset_is_removed_and_the_surroundings_stay() -> None:
    rng = np.random.default_rng(1)
    n = 60
    centers = np.array(["A"] * 30 + ["B"] * 30, dtype=object)
    sites = [(Site.STOMACH, Site.JEJUNUM_ILEUM)[i % 2].value for i in range(n)]
    biology = rng.normal(0.5, 0.03, n)
    offset = np.where(centers == "B", 0.03, 0.0)  # 12 HU brighter at B's scanner
    crops = _crops(biology + offset, rng)
    protected = protected_covariates(_extents(rng.uniform(20, 80, n)), sites)
    harmoniser = CropHarmoniser.fit(crops, centers, protected, [None] * n, WINDOW_HU)
    out = harmoniser.apply(crops, centers, protected, [None] * n)

    levels = tumour_levels(out)
    difference = levels[centers == "B"].mean() - levels[centers == "A"].mean()
    before = tumour_levels(crops)
    assert abs(before[centers == "B"].mean() - before[centers == "A"].mean() - 0.03) < 0.02
    # equal given size and site (the centers' sizes differ by chance): within 1.6 HU of 12
    assert abs(difference) < 0.004
    # the patients of a center keep their differences (their biology); ComBat's scale term
    # and the covariates' terms may swap near neighbours only
    for center in ("A", "B"):
        rows = centers == center
        assert spearmanr(levels[rows], before[rows]).statistic > 0.95
    # the terms in HU: B brought down, A up, together 12 HU apart (± sampling of 30 each)
    shifts = harmoniser.center_shifts_hu()
    assert shifts["B"] < 0 < shifts["A"]
    assert shifts["A"] - shifts["B"] == pytest.approx(12.0, abs=6.0)
    # only the tumour moved: the voxels outside the mask are untouched
    outside = crops[:, 1] == 0
    np.testing.assert_array_equal(out[:, 0][outside], crops[:, 0][outside])
    assert "A +" in harmoniser.describe() and "B -" in harmoniser.describe()


def test_the_size_and_site_effects_are_kept() -> None:
    """Center B treats larger tumours, whose level is lower (necrosis): no scanner effect, so
    the harmonisation must move nothing beyond sampling noise."""
    rng = np.random.default_rng(2)
    n = 80
    centers = np.array(["A"] * 40 + ["B"] * 40, dtype=object)
    sizes = np.where(centers == "B", rng.uniform(60, 120, n), rng.uniform(15, 40, n))
    sites = [Site.STOMACH.value] * n
    levels = 0.6 - 0.05 * np.log(sizes / 50.0) + rng.normal(0.0, 0.01, n)
    crops = _crops(levels, rng)
    protected = protected_covariates(_extents(sizes), sites)
    harmoniser = CropHarmoniser.fit(crops, centers, protected, [None] * n, WINDOW_HU)
    shifts = harmoniser.shifts(crops, centers, protected, [None] * n) * WINDOW_HU
    assert np.abs(shifts).max() < 3.0  # HU; the size effect between centers is ~17 HU
    # without the size protected, ComBat would take the size effect for the scanner's
    blind = CropHarmoniser.fit(crops, centers, None, [None] * n, WINDOW_HU)  # type: ignore[arg-type]
    assert max(abs(v) for v in blind.center_shifts_hu().values()) > 6.0


def test_kvp_varying_within_a_center_is_removed_and_applies_to_a_new_center() -> None:
    rng = np.random.default_rng(3)
    n = 80
    centers = np.array(["A"] * 40 + ["B"] * 40, dtype=object)
    kvp = np.where(np.arange(n) % 2 == 0, 100.0, 120.0)
    biology = rng.normal(0.5, 0.02, n)
    crops = _crops(biology + np.where(kvp == 100, 0.02, 0.0), rng)  # +8 HU at 100 kVp
    protected = protected_covariates(_extents(np.full(n, 40.0)), [Site.STOMACH.value] * n)
    kvp_values: list[object] = list(kvp)
    kvp_values[1] = None  # unknown: the center's median (110) is taken
    harmoniser = CropHarmoniser.fit(crops, centers, protected, kvp_values, WINDOW_HU)
    assert harmoniser.kvp_used and "kVp removed" in harmoniser.describe()
    assert "the scan's kVp removed as a scanner effect" in summary_text(harmoniser.summary())
    levels = tumour_levels(harmoniser.apply(crops, centers, protected, kvp_values))
    known = np.array([v is not None for v in kvp_values])
    low, high = known & (kvp == 100), known & (kvp == 120)
    assert abs(levels[low].mean() - levels[high].mean()) < 0.004  # < 1.6 HU, from 8
    # a center not seen in training: no center term, but the kVp slope is removed
    new = _crops(np.array([0.52, 0.50]), rng)
    shift = harmoniser.shifts(new, ["C", "C"], protected[:2], [100, 120]) * WINDOW_HU
    assert shift[0] - shift[1] == pytest.approx(-8.0, abs=2.0)
    # kVp constant within every center: the centers' terms hold it, it is not used
    constant = np.where(centers == "A", 100.0, 120.0)
    fitted = CropHarmoniser.fit(crops, centers, protected, list(constant), WINDOW_HU)
    assert not fitted.kvp_used


def test_a_stored_harmonisation_shifts_exactly_as_the_fitted_one() -> None:
    rng = np.random.default_rng(4)
    n = 30
    centers = np.array(["A", "B", "C"] * 10, dtype=object)
    crops = _crops(rng.normal(0.5, 0.03, n) + (centers == "C") * 0.02, rng)
    protected = protected_covariates(_extents(rng.uniform(20, 80, n)), ["stomach"] * n)
    kvp = list(np.where(np.arange(n) % 2 == 0, 100.0, 120.0))  # varies within each center
    kvp[4] = float("nan")
    harmoniser = CropHarmoniser.fit(crops, centers, protected, kvp, WINDOW_HU)
    assert harmoniser.kvp_used and harmoniser.center_shifts_hu()
    again = CropHarmoniser.from_dict(json.loads(json.dumps(harmoniser.to_dict())))
    np.testing.assert_array_equal(
        again.shifts(crops, centers, protected, kvp),
        harmoniser.shifts(crops, centers, protected, kvp),
    )


def test_a_center_with_few_training_rows_is_left_as_it_is() -> None:
    """Two rows of nearly equal level say nothing of a scanner: neither their mean nor their
    spread may move a new patient of that center."""
    rng = np.random.default_rng(5)
    centers = np.array(["A"] * 30 + ["B"] * 2, dtype=object)
    levels = np.concatenate([rng.normal(0.5, 0.03, 30), [0.56, 0.5605]])
    crops = _crops(levels, rng)
    protected = protected_covariates(_extents(np.full(32, 40.0)), ["stomach"] * 32)
    harmoniser = CropHarmoniser.fit(crops, centers, protected, [None] * 32, WINDOW_HU)
    assert set(harmoniser.center_shifts_hu()) == set()  # one center big enough: nothing to do
    assert "fewer than two centers had the 10 training patients" in harmoniser.describe()
    assert summary_text(harmoniser.summary()).startswith("none: fewer than two centers")
    new = _crops(np.array([0.45, 0.55]), rng)
    shifts = harmoniser.shifts(new, ["B", "B"], protected[:2], [None, None])
    np.testing.assert_array_equal(shifts, [0.0, 0.0])


GENOTYPES = [GenotypeDetail.KIT11_DEL_557_558, GenotypeDetail.KIT9]
TINY = DlSettings(epochs=1, patience=1, batch_size=6, architecture=Architecture.DENSENET_SMALL)


@pytest.fixture(scope="module")
def two_centers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """24 patients, the same genotypes at both centers; the tumours of Boston's scanner
    read 25 HU brighter."""
    data_dir = tmp_path_factory.mktemp("harmonise")
    rng = np.random.default_rng(7)
    rows = []
    for i in range(24):
        center = ("Lyon", "Boston")[i // 12]
        genotype = GENOTYPES[i % 2]
        offset = 25.0 if center == "Boston" else 0.0
        rows.append(
            {
                "pseudonym": f"P-{i:03d}",
                "center": center,
                "kvp": 120.0,
                "genotype_detail": genotype.value,
                "site": (Site.STOMACH, Site.JEJUNUM_ILEUM)[(i // 2) % 2].value,
                "sex": "female" if i % 3 else "male",
                "age_at_diagnosis": float(50 + i),
                "rfs_months": float(6 + 4 * i),
                "rfs_event": i % 3 == 0,
                **_patient_images(data_dir, i, i % 2 == 0, rng, tumour_offset_hu=offset),
            }
        )
    return data_dir, pd.DataFrame(rows)


def test_the_deep_model_harmonises_with_its_training_rows_and_keeps_it_in_its_file(
    two_centers: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    data_dir, table = two_centers
    learner = DlLearner(n_classes=2, data_dir=data_dir, seed=3, settings=TINY, device="cpu")
    labels = labels_for(table, Target.KIT11)
    train = np.arange(22)  # two patients of Boston are not trained on
    fitted = learner.fit(table, labels, train)
    harmoniser = fitted["harmoniser"]
    shifts = harmoniser.center_shifts_hu()
    assert shifts["Boston"] - shifts["Lyon"] == pytest.approx(-25.0, abs=6.0)
    # the training rows alone: the same terms from a table without the held-out patients
    part = table.iloc[train]
    alone = learner.fit_harmoniser(*learner._read(part), part, np.arange(len(part)))
    assert alone.center_shifts_hu() == pytest.approx(shifts, abs=1e-9)
    # what the network reads: Boston's tumours at Lyon's level
    crops, _ = learner.inputs(table, harmoniser)
    levels = tumour_levels(crops) * WINDOW_HU
    boston = table["center"].to_numpy() == "Boston"
    assert abs(levels[boston].mean() - levels[~boston].mean()) < 6.0
    raw = tumour_levels(learner._read(table)[0]) * WINDOW_HU
    assert raw[boston].mean() - raw[~boston].mean() > 15.0

    path, sha256 = learner.save(fitted, tmp_path)
    loaded = learner.load(path, sha256)
    assert loaded["harmoniser"].center_shifts_hu() == pytest.approx(shifts)
    before, after = learner.predict(fitted, table), learner.predict(loaded, table)
    np.testing.assert_array_equal(after.probabilities, before.probabilities)
    # the harmonisation reaches the predictions: without it they differ
    plain = learner.predict({**fitted, "harmoniser": None}, table)
    assert np.abs(plain.probabilities - before.probabilities).max() > 1e-6
    # Grad-CAM reads the crop as the network saw it
    row = next(table.iloc[[22]].itertuples(index=False))
    cam, crop = learner.attention(loaded, row, 0)
    assert cam.shape == crop.shape and np.isfinite(cam).all()
    unharmonised, _ = learner.attention({**loaded, "harmoniser": None}, row, 0)
    assert np.abs(cam - unharmonised).max() > 1e-6
    assert "harmonised per center" in _inputs_text(learner.kind, dl_settings=learner.settings)


def test_without_harmonisation_the_file_holds_the_networks_only(
    two_centers: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    data_dir, table = two_centers
    settings = replace(TINY, harmonise=False)
    learner = DlLearner(n_classes=2, data_dir=data_dir, seed=3, settings=settings, device="cpu")
    fitted = learner.fit(table, labels_for(table, Target.KIT11), np.arange(len(table)))
    assert fitted["harmoniser"] is None
    path, sha256 = learner.save(fitted, tmp_path)
    assert not isinstance(learner.load(path, sha256), dict)
    assert "harmonised" not in _inputs_text(learner.kind, dl_settings=settings)
