"""The radiomics model search: covariates, near-duplicates, inner splits, four classes."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from gistcad.modelling.radiomics_search import (
    Preprocessing,
    SearchSettings,
    _class_auc,
    _inner_splits,
    _spearman_duplicates,
    clinical_covariates,
    macro_auc,
    search,
    search_candidates,
)

#: a small grid: the tests check behaviour, not accuracy
TINY = SearchSettings(
    k_features=(5,),
    logistic_c=(0.5,),
    svm_c=(1.0,),
    forest_trees=20,
    inner_repeats=1,
    ensemble_size=3,
)


def _clinical(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size_cm": rng.uniform(2, 12, n),
            "site": rng.choice(["stomach", "jejunum_ileum", "duodenum"], n),
            "age_at_diagnosis": rng.uniform(40, 80, n),
            "sex": rng.choice(["female", "male"], n),
        }
    )


def test_near_duplicates_are_dropped_keeping_the_first() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    # a monotone transform of a (ρ = 1), b, and -a with a little noise (|ρ| > 0.95)
    x = np.column_stack([a, np.exp(a), b, -a + rng.normal(0, 0.01, 50)])
    assert list(_spearman_duplicates(x, 0.95)) == [True, False, True, False]
    assert list(_spearman_duplicates(x[:, [2, 0]], 0.95)) == [True, True]


def test_clinical_covariates_read_only_site_size_age_and_sex() -> None:
    rng = np.random.default_rng(1)
    table = _clinical(8, rng)
    leaky = table.assign(mitotic_count=np.arange(8), genotype_detail="kit9", rfs_event=True)
    pd.testing.assert_frame_equal(clinical_covariates(table), clinical_covariates(leaky))
    out = clinical_covariates(table.assign(sex=["male", "female", None, *["male"] * 5]))
    assert np.allclose(out["clin_log_size"], np.log(table["size_cm"]))
    assert list(out["clin_male"][:3].fillna(-1)) == [1.0, 0.0, -1.0]
    assert (out.filter(like="clin_site_").sum(axis=1) == 1).all()


def test_the_inner_splits_leave_one_center_out_when_asked_and_possible() -> None:
    labels = np.array([0, 1] * 6)
    centers = np.array(["a"] * 4 + ["b"] * 4 + ["c"] * 4, dtype=object)
    splits = _inner_splits(labels, centers, TINY, 0, by_center=True)
    assert len(splits) == 3
    assert all(len(set(centers[test])) == 1 for _, test in splits)
    one = np.array(["a"] * 12, dtype=object)
    assert len(_inner_splits(labels, one, TINY, 0, by_center=True)) == TINY.inner_folds


def test_macro_auc_by_hand() -> None:
    classes = np.array([0, 1, 2])
    labels = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.4, 0.1]])
    # class 0: 1.0; class 1: 1.0; class 2: positives 0.8, 0.1 vs negatives 0.1, 0.1: 2 wins and
    # 2 ties of 4 pairs → 0.75
    assert macro_auc(labels, proba, classes) == pytest.approx((1 + 1 + 0.75) / 3)


def _cohort(n: int, signal: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 4
    image = pd.DataFrame(rng.normal(size=(n, 12)), columns=[f"f{i}" for i in range(12)])
    image["solid_p50"] = 60 + signal * 8 * labels + rng.normal(0, 4, n)  # four levels
    image["center_shift"] = rng.normal(size=n)
    return image, clinical_covariates(_clinical(n, rng)), labels


def test_four_classes_are_learnt_and_the_ensemble_averages_the_best() -> None:
    image, clinical, labels = _cohort(120, 1.0, 2)
    centers = np.array(["a", "b", "c"] * 40, dtype=object)
    train, test = np.arange(80), np.arange(80, 120)
    model = search(
        image.iloc[train], clinical.iloc[train], centers[train], labels[train], TINY, seed=1
    )
    assert len(model.members) == TINY.ensemble_size == len(model.names)
    # every classifier on all features and on the clinical + solid-part group
    assert {name.rsplit(" ", 1)[1] for name in model.scores} == {"all", "clin+solid"}
    best = sorted(model.scores.values(), reverse=True)[: TINY.ensemble_size]
    assert sorted(model.scores[name] for name in model.names) == sorted(best)
    proba = model.predict_proba(image.iloc[test], clinical.iloc[test], centers[test])
    assert proba.shape == (40, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert macro_auc(labels[test], proba, model.classes) > 0.8


def test_without_signal_the_search_stays_near_chance() -> None:
    image, clinical, labels = _cohort(160, 0.0, 3)
    centers = np.array(["a", "b"] * 80, dtype=object)
    train, test = np.arange(100), np.arange(100, 160)
    model = search(
        image.iloc[train], clinical.iloc[train], centers[train], labels[train], TINY, seed=1
    )
    proba = model.predict_proba(image.iloc[test], clinical.iloc[test], centers[test])
    # 60 test rows, 15 per class: one-vs-rest AUC SE ≈ 0.085, macro of four ≈ 0.05
    assert abs(macro_auc(labels[test], proba, model.classes) - 0.5) < 0.2


def test_preprocessing_is_fitted_on_the_training_rows_only() -> None:
    image, clinical, _ = _cohort(60, 1.0, 4)
    centers = np.array(["a", "b"] * 30, dtype=object)
    prep = Preprocessing().fit(image.iloc[:40], clinical.iloc[:40], centers[:40])
    before = prep.transform(image.iloc[:40], clinical.iloc[:40], centers[:40])
    changed = image.copy()
    changed.iloc[40:] = 1e6  # the rows it did not fit on cannot move what it learnt
    again = Preprocessing().fit(changed.iloc[:40], clinical.iloc[:40], centers[:40])
    np.testing.assert_array_equal(
        before, again.transform(changed.iloc[:40], clinical.iloc[:40], centers[:40])
    )
    assert "clin_log_size" in prep.names_ and np.allclose(before.mean(axis=0), 0.0)


def test_the_class_auc_by_hand() -> None:
    classes = np.array([0, 1, 2])
    labels = np.array([0, 0, 1, 2])
    proba = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1], [0.1, 0.1, 0.8]])
    # class 0's scores 0.7, 0.3 against 0.5, 0.1: 3 of 4 pairs won
    assert _class_auc(labels, proba, classes, 0) == pytest.approx(0.75)
    assert np.isnan(_class_auc(labels[:2], proba[:2], classes, 0))  # no rest
    assert np.isnan(_class_auc(labels, proba[:, :2], classes[:2], 3))  # no such class


LINEAR = SearchSettings(
    feature_groups=(None,),
    k_features=(None,),
    logistic_c=(1.0,),
    svm_c=(),
    forest_depths=(),
    inner_repeats=1,
)


def test_a_class_between_the_others_is_found_through_the_finer_classes() -> None:
    # KIT exon 11 (class 0) lies between KIT exon 9 above and PDGFRA below in enhancement:
    # "class 0 vs rest" is not one line, the three classes are two
    image, clinical, labels = _cohort(600, 0.0, 5)
    three = labels < 3
    image, clinical, labels = image[three], clinical[three], labels[three]
    rng = np.random.default_rng(5)
    image["solid_p50"] = 60 + np.array([0.0, 10.0, -10.0])[labels] + rng.normal(0, 3, 450)
    centers = np.array(["a"] * 3 + ["b"] * 3, dtype=object)[np.arange(450) % 6]  # every class
    train, test = np.arange(300), np.arange(300, 450)
    kit11 = (labels == 0).astype(np.int64)

    def auc_of(fitted_labels: np.ndarray, score_class: int | None) -> float:
        model = search(
            image.iloc[train],
            clinical.iloc[train],
            centers[train],
            fitted_labels[train],
            LINEAR,
            seed=1,
            score_class=score_class,
        )
        proba = model.predict_proba(image.iloc[test], clinical.iloc[test], centers[test])
        column = list(model.classes).index(0 if score_class == 0 else 1)
        return float(roc_auc_score(kit11[test], proba[:, column]))

    # one line for "0 vs rest" ranks the middle class at chance (SE ≈ 0.05 on 150 rows)
    assert abs(auc_of(kit11, None) - 0.5) < 0.15
    assert auc_of(labels, 0) > 0.85


def test_settings_stored_before_the_genotype_classes_load_as_they_were_trained() -> None:
    stored = asdict(SearchSettings())
    assert SearchSettings.from_stored(stored) == SearchSettings()
    assert SearchSettings().genotype_classes and SearchSettings().ensemble_size == 16
    del stored["genotype_classes"]
    stored["ensemble_size"] = 3  # what the search kept before
    older = SearchSettings.from_stored(stored)
    assert not older.genotype_classes and older.ensemble_size == 3


def test_an_ensemble_of_every_candidate_skips_the_inner_cross_validation() -> None:
    image, clinical, labels = _cohort(120, 1.0, 6)
    centers = np.array(["a", "b", "c"] * 40, dtype=object)
    every = replace(TINY, ensemble_size=99)
    model = search(image, clinical, centers, labels, every, seed=1)
    assert len(model.members) == len(model.scores) == search_candidates(TINY)
    assert model.names == list(model.scores)  # the grid's order: nothing was ranked
    assert all(np.isnan(score) for score in model.scores.values())
    proba = model.predict_proba(image, clinical, centers)
    assert macro_auc(labels, proba, model.classes) > 0.8
