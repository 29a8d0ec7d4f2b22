"""Folds dealt by hash: reproducible for any row order, balanced per class, reusable."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.errors import ValidationError
from gistcad.ingest.pseudonym import Pseudonymizer
from gistcad.modelling.folds import (
    UNTESTED,
    EarlierFolds,
    Scheme,
    deal_rank,
    folds,
    plan_folds,
)

CENTERS = ("Alpha", "Beta", "Gamma")


def _cohort(n: int = 200, seed: int = 3) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Labels (four classes of unequal size, a few unknown), hospital ids, centers."""
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 1, 2, 3, -1], size=n, p=[0.55, 0.15, 0.1, 0.15, 0.05])
    hospital_ids = [f"H{1000 + i}" for i in range(n)]
    centers = np.array([CENTERS[i % 3] for i in range(n)], dtype=object)
    return labels.astype(np.int64), hospital_ids, centers


def _map(labels: np.ndarray, keys: list[str], centers: np.ndarray, **kw: object) -> dict:
    plan = plan_folds(labels, keys, centers, kw.pop("scheme", Scheme.KFOLD), **kw)  # type: ignore[arg-type]
    return plan.assignment(keys)


def test_the_same_cohort_imported_twice_with_the_same_key_gets_the_same_folds() -> None:
    labels, ids, centers = _cohort()
    key = bytes(range(32))
    first = [Pseudonymizer(key).pseudonym(c, h) for c, h in zip(centers, ids, strict=True)]
    # the second import reads the rows in another order; the data folder's key is the same
    order = np.random.default_rng(9).permutation(len(ids))
    second = [Pseudonymizer(key).pseudonym(centers[i], ids[i]) for i in order]
    for scheme in Scheme:
        a = _map(labels, first, centers, scheme=scheme, seed=4)
        b = _map(labels[order], second, centers[order], scheme=scheme, seed=4)
        assert a == b and len(a) == int((labels >= 0).sum())


def test_another_pseudonym_key_or_seed_deals_other_folds() -> None:
    """What the folds do not survive: a data folder with its own key gives other pseudonyms."""
    labels, ids, centers = _cohort()
    own = [Pseudonymizer(bytes(32)).pseudonym(c, h) for c, h in zip(centers, ids, strict=True)]
    other = [
        Pseudonymizer(bytes([1] * 32)).pseudonym(c, h) for c, h in zip(centers, ids, strict=True)
    ]
    by_row = list(_map(labels, own, centers).values())
    by_other_key = list(_map(labels, other, centers).values())
    by_other_seed = list(_map(labels, own, centers, seed=1).values())
    for changed in (by_other_key, by_other_seed):
        same = np.mean(np.array(by_row) == np.array(changed))
        assert same < 0.5  # about 1/5 by chance


@pytest.mark.parametrize("k", [3, 5])
def test_each_fold_has_every_class_within_one_of_the_others(k: int) -> None:
    labels, ids, centers = _cohort()
    plan = plan_folds(labels, ids, centers, Scheme.KFOLD, k=k)
    assert plan.names == tuple(f"fold {i + 1}" for i in range(k))
    per_fold = np.array(
        [np.bincount(labels[plan.fold == f], minlength=4) for f in range(k)]
    )  # (folds, classes)
    assert (per_fold.max(axis=0) - per_fold.min(axis=0) <= 1).all(), per_fold
    sizes = per_fold.sum(axis=1)
    assert sizes.max() - sizes.min() <= 1
    assert (plan.fold[labels < 0] == UNTESTED).all()
    tested = np.concatenate([test for _, _, test in plan.splits()])
    assert sorted(tested) == list(np.flatnonzero(labels >= 0))
    for _, train, test in plan.splits():
        assert not set(train) & set(test) and set(train) | set(test) == set(tested)


def test_folds_are_dealt_round_robin_in_hash_order() -> None:
    labels = np.array([1, 1, 1, 0, 0, 0, 0], dtype=np.int64)  # strata dealt in label order
    keys = [f"K{i}" for i in range(7)]
    plan = plan_folds(labels, keys, np.array(["A"] * 7, dtype=object), Scheme.KFOLD, k=2)
    zeros = np.flatnonzero(labels == 0)
    ones = np.flatnonzero(labels == 1)
    ranked_zeros = zeros[deal_rank([keys[i] for i in zeros], 0)]
    ranked_ones = ones[deal_rank([keys[i] for i in ones], 0)]
    assert list(plan.fold[ranked_zeros]) == [0, 1, 0, 1]
    # the second stratum continues where the first stopped (four dealt: next is fold 0)
    assert list(plan.fold[ranked_ones]) == [0, 1, 0]


def test_hold_out_is_a_quarter_of_each_class_by_hash() -> None:
    labels, ids, centers = _cohort()
    plan = plan_folds(labels, ids, centers, Scheme.HOLDOUT, seed=2)
    ((name, train, test),) = list(plan.splits())
    assert name == "hold-out"
    for label in range(4):
        n = int((labels == label).sum())
        assert int((labels[test] == label).sum()) == int(np.floor(n * 0.25 + 0.5))
    assert not set(train) & set(test) and len(train) + len(test) == int((labels >= 0).sum())
    order = np.random.default_rng(1).permutation(len(ids))
    again = plan_folds(
        labels[order], [ids[i] for i in order], centers[order], Scheme.HOLDOUT, seed=2
    )
    assert again.assignment([ids[i] for i in order]) == plan.assignment(ids)


def test_plain_folds_cover_each_known_patient_once_and_leave_centers_apart() -> None:
    labels, ids, centers = _cohort()
    loco = list(folds(labels, centers, Scheme.LOCO, keys=ids))
    assert [name for name, _, _ in loco] == [f"without {c}" for c in CENTERS]
    for _, train, test in loco:
        assert not set(centers[train]) & set(centers[test])


def test_earlier_folds_are_kept_and_newcomers_dealt_by_hash() -> None:
    labels, ids, centers = _cohort(n=240)
    first = plan_folds(labels[:200], ids[:200], centers[:200], Scheme.KFOLD, seed=8)
    earlier = EarlierFolds.from_dict(first.to_dict(ids[:200]))
    # a later model: another seed, the cohort grown by 40 patients, rows in another order
    order = np.random.default_rng(5).permutation(240)
    keys = [ids[i] for i in order]
    later = plan_folds(labels[order], keys, centers[order], Scheme.KFOLD, seed=99, earlier=earlier)
    assignment = later.assignment(keys)
    old = first.assignment(ids[:200])
    assert {k: assignment[k] for k in old} == old
    newcomers = {k: v for k, v in assignment.items() if k not in old}
    plain = plan_folds(labels[order], keys, centers[order], Scheme.KFOLD, seed=8).assignment(keys)
    assert newcomers == {k: plain[k] for k in newcomers}  # the hash deal, with the earlier seed
    assert later.kept == len(old) and later.dealt == len(newcomers) > 0


def test_earlier_folds_of_another_scheme_are_refused() -> None:
    labels, ids, centers = _cohort()
    earlier = EarlierFolds.from_dict(plan_folds(labels, ids, centers, Scheme.HOLDOUT).to_dict(ids))
    with pytest.raises(
        ValidationError, match="made for holdout validation; train with --cv holdout"
    ):
        plan_folds(labels, ids, centers, Scheme.KFOLD, earlier=earlier)


def test_too_few_known_labels_are_refused() -> None:
    labels = np.array([0, 0, 0, -1, -1], dtype=np.int64)
    with pytest.raises(ValidationError, match="need both outcomes"):
        plan_folds(labels, list("abcde"), np.array(["A"] * 5, dtype=object), Scheme.KFOLD)
