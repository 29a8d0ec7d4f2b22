"""Cross-validation schemes: stratified k-fold, leave-one-center-out, a single hold-out.

Folds are dealt, not drawn. Within each stratum (the label of the target), the patients are
sorted by ``sha256(f"{seed}:{key}")`` of their stable key and dealt to folds 0, 1, …, k−1 in
turn; each stratum continues where the previous one stopped, so every fold's count of each
class, and every fold's size, differ by at most one. The hold-out is dealt the same way: in
each stratum the first quarter in hash order is the test set. A patient's fold therefore
depends only on the seed, its key, its label and the cohort's class counts, never on the order
in which rows were imported or queried.

**The key is the pseudonym.** The store keeps no identifier that is stable across data folders:
the pseudonym is an HMAC of the center and the center's patient id under the data folder's own
key (:mod:`gistcad.ingest.pseudonym`), and the original id is not kept. So folds are
reproducible within a data folder (re-imports of the same cohort, in any order, give the same
pseudonyms and the same folds) and across data folders that share the pseudonym key; two data
folders with different keys deal different folds. To compare models on exactly the same folds,
train the later ones with ``--folds-from`` (:func:`plan_folds`' ``earlier``), which keeps each
patient's stored fold.

Every scheme yields ``(name, train_index, test_index)`` over the rows with a known label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gistcad.errors import ValidationError

IntArray = NDArray[np.int64]
#: a row's fold when it is tested by no fold: unknown label, or the training part of a hold-out
UNTESTED = -1
HOLDOUT_NAME = "hold-out"


class Scheme(StrEnum):
    KFOLD = "kfold"  # internal stratified k-fold cross-validation
    LOCO = "loco"  # leave one center out: external validation per center
    HOLDOUT = "holdout"  # one stratified split (fast; the demo's deep model)


def deal_rank(keys: Sequence[str], seed: int) -> IntArray:
    """The order in which ``keys`` are dealt: indices sorted by ``sha256(f"{seed}:{key}")``
    (ties, which need equal keys, by position)."""
    digests = [hashlib.sha256(f"{seed}:{key}".encode()).hexdigest() for key in keys]
    return np.array(sorted(range(len(keys)), key=lambda i: (digests[i], i)), dtype=np.int64)


@dataclass(frozen=True)
class FoldPlan:
    """Which fold tests each row.

    ``fold``: per row, the index into ``names`` of the fold that tests it, or
    :data:`UNTESTED`. ``known``: rows with a known label (every fold trains on the known rows it
    does not test). ``kept``/``dealt``: with an earlier assignment, how many known rows kept
    their earlier fold and how many (not in it) were dealt by hash; without one, 0 and all.
    """

    scheme: Scheme
    names: tuple[str, ...]
    fold: IntArray
    known: NDArray[np.bool_]
    seed: int
    kept: int = 0
    dealt: int = 0

    def splits(self) -> Iterator[tuple[str, IntArray, IntArray]]:
        """``(name, train_index, test_index)`` per fold, in order (a fold left without
        patients, possible with reused folds, is skipped)."""
        for i, name in enumerate(self.names):
            test = np.flatnonzero(self.fold == i)
            if test.size == 0:
                continue
            train = np.flatnonzero(self.known & (self.fold != i))
            yield name, train, test

    def assignment(self, keys: Sequence[str]) -> dict[str, int]:
        """Key → fold of every known row (:data:`UNTESTED` for a hold-out's training rows):
        what a model version stores so that later versions can reuse its folds."""
        return {str(keys[i]): int(self.fold[i]) for i in np.flatnonzero(self.known).tolist()}

    def to_dict(self, keys: Sequence[str]) -> dict[str, Any]:
        """The plan as JSON-ready data (stored with the model version)."""
        return {
            "scheme": self.scheme.value,
            "names": list(self.names),
            "seed": self.seed,
            "key": "pseudonym",
            "kept": self.kept,
            "dealt": self.dealt,
            "assignment": self.assignment(keys),
        }


@dataclass(frozen=True)
class EarlierFolds:
    """The folds a registered version was validated on (its stored :meth:`FoldPlan.to_dict`)."""

    scheme: Scheme
    names: tuple[str, ...]
    seed: int
    assignment: Mapping[str, int]

    @classmethod
    def from_dict(cls, stored: Mapping[str, Any]) -> EarlierFolds:
        """Read back :meth:`FoldPlan.to_dict`; a fold outside the stored folds is dropped
        (that patient is then dealt by hash)."""
        names = tuple(str(n) for n in stored["names"])
        scheme = Scheme(str(stored["scheme"]))
        assignment = {str(key): int(fold) for key, fold in stored["assignment"].items()}
        return cls(
            scheme=scheme,
            names=names,
            seed=int(stored["seed"]),
            assignment={
                key: fold for key, fold in assignment.items() if UNTESTED <= fold < len(names)
            },
        )


def plan_folds(
    labels: IntArray,
    keys: Sequence[str],
    centers: NDArray[np.object_],
    scheme: Scheme,
    *,
    k: int = 5,
    test_fraction: float = 0.25,
    seed: int = 0,
    earlier: EarlierFolds | None = None,
) -> FoldPlan:
    """Deal the rows with a known label (≥ 0) to folds; see the module doc.

    Parameters
    ----------
    labels
        (n,) class index per row, −1 when unknown (such rows are in no fold).
    keys
        (n,) the stable key of each row: its pseudonym.
    centers
        (n,) center names (the folds of leave-one-center-out).
    k
        Folds of k-fold, reduced to the smallest class count (at least 2).
    earlier
        Folds to keep (``--folds-from``): rows whose key it assigns keep that fold, the others
        get the fold the hash deal (with the earlier seed and number of folds) gives them on
        this cohort. Its scheme must be ``scheme``; leave-one-center-out folds are the centers.

    Raises
    ------
    ValidationError
        Too few known rows or a single class; an earlier assignment of another scheme.
    """
    known = labels >= 0
    y = labels[known]
    if y.size < 4 or np.unique(y).size < 2:
        raise ValidationError(
            "too few patients with a known label to train and test (need both outcomes)"
        )
    if earlier is not None and earlier.scheme is not scheme:
        raise ValidationError(
            f"the folds to reuse were made for {earlier.scheme.value} validation; train with "
            f"--cv {earlier.scheme.value} to use them"
        )
    if scheme is Scheme.LOCO:
        plan = _leave_one_center_out(labels, centers, known, seed)
    else:
        if earlier is not None:
            seed = earlier.seed
        if scheme is Scheme.HOLDOUT:
            names: tuple[str, ...] = (HOLDOUT_NAME,)
            fold = _deal_holdout(labels, keys, test_fraction, seed)
        else:
            counts = np.bincount(y)
            smallest = int(counts[counts > 0].min())
            n_folds = len(earlier.names) if earlier else max(2, min(k, smallest))
            names = tuple(f"fold {i + 1}" for i in range(n_folds))
            fold = _deal_kfold(labels, keys, n_folds, seed)
        plan = FoldPlan(scheme, names, fold, known, seed, dealt=int(known.sum()))
    if earlier is None:
        return plan
    return _keep_earlier(plan, keys, earlier)


def folds(
    labels: IntArray,
    centers: NDArray[np.object_],
    scheme: Scheme,
    *,
    keys: Sequence[str],
    k: int = 5,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Iterator[tuple[str, IntArray, IntArray]]:
    """Train/test row indices of :func:`plan_folds`; rows with label −1 are in neither."""
    plan = plan_folds(labels, keys, centers, scheme, k=k, test_fraction=test_fraction, seed=seed)
    yield from plan.splits()


def _deal_kfold(labels: IntArray, keys: Sequence[str], n_folds: int, seed: int) -> IntArray:
    fold = np.full(labels.size, UNTESTED, dtype=np.int64)
    turn = 0
    for label in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == label)
        ordered = rows[deal_rank([keys[i] for i in rows.tolist()], seed)]
        fold[ordered] = (turn + np.arange(ordered.size)) % n_folds
        turn = (turn + ordered.size) % n_folds
    return fold


def _deal_holdout(
    labels: IntArray, keys: Sequence[str], test_fraction: float, seed: int
) -> IntArray:
    """Per stratum, the first ``round(n × test_fraction)`` in hash order (at most n − 1, so
    that every class stays in training) form the test set (fold 0)."""
    fold = np.full(labels.size, UNTESTED, dtype=np.int64)
    for label in np.unique(labels[labels >= 0]):
        rows = np.flatnonzero(labels == label)
        ordered = rows[deal_rank([keys[i] for i in rows.tolist()], seed)]
        n_test = min(int(np.floor(rows.size * test_fraction + 0.5)), rows.size - 1)
        fold[ordered[:n_test]] = 0
    return fold


def _leave_one_center_out(
    labels: IntArray, centers: NDArray[np.object_], known: NDArray[np.bool_], seed: int
) -> FoldPlan:
    """One fold per center; a center whose absence leaves a single class to train on is not
    tested."""
    fold = np.full(labels.size, UNTESTED, dtype=np.int64)
    names: list[str] = []
    for center in sorted(set(centers[known])):
        test = known & (centers == center)
        if np.unique(labels[known & ~test]).size < 2:
            continue
        fold[test] = len(names)
        names.append(f"without {center}")
    return FoldPlan(Scheme.LOCO, tuple(names), fold, known, seed, dealt=int(known.sum()))


def _keep_earlier(plan: FoldPlan, keys: Sequence[str], earlier: EarlierFolds) -> FoldPlan:
    fold = plan.fold.copy()
    kept = 0
    for i in np.flatnonzero(plan.known).tolist():
        stored = earlier.assignment.get(str(keys[i]))
        if stored is None:
            continue
        kept += 1
        if plan.scheme is not Scheme.LOCO:  # leave-one-center-out folds are the centers
            fold[i] = stored
    return FoldPlan(
        plan.scheme,
        plan.names,
        fold,
        plan.known,
        plan.seed,
        kept=kept,
        dealt=int(plan.known.sum()) - kept,
    )
