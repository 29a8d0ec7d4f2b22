"""Cross-validation schemes: stratified k-fold, leave-one-center-out, a single hold-out.

Every scheme yields ``(name, train_index, test_index)`` over the rows with a known label;
folds are seeded and stratified by label so that rare classes reach every fold.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from gistcad.errors import ValidationError

IntArray = NDArray[np.int64]


class Scheme(StrEnum):
    KFOLD = "kfold"  # internal stratified k-fold cross-validation
    LOCO = "loco"  # leave one center out: external validation per center
    HOLDOUT = "holdout"  # one stratified split (fast; the demo's deep model)


def folds(
    labels: IntArray,
    centers: NDArray[np.object_],
    scheme: Scheme,
    *,
    k: int = 5,
    test_fraction: float = 0.25,
    seed: int = 0,
) -> Iterator[tuple[str, IntArray, IntArray]]:
    """Train/test row indices; rows with label −1 are in neither."""
    known = np.flatnonzero(labels >= 0)
    y = labels[known]
    if known.size < 4 or np.unique(y).size < 2:
        raise ValidationError(
            "too few patients with a known label to train and test (need both outcomes)"
        )
    if scheme is Scheme.LOCO:
        for center in sorted(set(centers[known])):
            test = known[centers[known] == center]
            train = known[centers[known] != center]
            if np.unique(labels[train]).size < 2:
                continue
            yield f"without {center}", train, test
        return
    if scheme is Scheme.HOLDOUT:
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(
            known, test_size=test_fraction, stratify=_stratifiable(y), random_state=seed
        )
        yield "hold-out", np.sort(train), np.sort(test)
        return
    smallest = int(np.bincount(y).min()) if y.min() >= 0 else 0
    splits = max(2, min(k, smallest))
    from sklearn.model_selection import StratifiedKFold

    kfold = StratifiedKFold(n_splits=splits, shuffle=True, random_state=seed)
    for i, (train, test) in enumerate(kfold.split(known, y)):
        yield f"fold {i + 1}", known[train], known[test]


def _stratifiable(y: IntArray) -> IntArray | None:
    counts = np.bincount(y)
    return y if counts[counts > 0].min() >= 2 else None
