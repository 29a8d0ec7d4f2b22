"""Models compared on the same out-of-fold patients, per center, with DeLong's paired test;
why a model can meet the ceiling."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from gistcad.modelling.assessment import compare_on_shared_patients, reference_notes
from gistcad.modelling.evaluation import POOLED
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.trainer import train_and_register
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.model_queries import find_model_version, model_version_detail
from tests.factories import seed_cohort

EVERYTHING = AccessScope.everything()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """A k-fold genotype model, a k-fold KIT exon 11 model on its folds, a hold-out one."""
    root = tmp_path_factory.mktemp("shared")
    engine = make_engine(f"sqlite:///{root / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=80, with_series=True)
        for parameters in (
            {"kind": "clinical", "name": "geno"},
            {"kind": "clinical", "target": "kit11", "name": "k11", "folds_from": "geno"},
            {"kind": "clinical", "name": "held", "scheme": "holdout"},
        ):
            train_and_register(s, EVERYTHING, root, TrainRequest.from_parameters(parameters))
        s.commit()
    return engine


def _detail(s: Session, name: str):  # type: ignore[no-untyped-def]
    return model_version_detail(s, EVERYTHING, find_model_version(s, name, EVERYTHING)[0])


def _auc_by_counting(score: np.ndarray, label: np.ndarray) -> float:
    """The AUC as the share of (positive, negative) pairs ranked right, ties half."""
    pos, neg = score[label == 1], score[label == 0]
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg)]
    return float(np.mean(pairs))


def test_models_are_compared_on_the_same_patients_and_a_hold_out_one_is_set_apart(
    store: Engine,
) -> None:
    with Session(store) as s:
        geno, k11, held = _detail(s, "geno"), _detail(s, "k11"), _detail(s, "held")
        result = compare_on_shared_patients(s, EVERYTHING, geno, "kit11_vs_rest")
    assert result.models == ("geno (Clinical)", "k11 (Clinical)")  # a different target, too
    shared = sorted(set(geno.oof["pseudonym"]) & set(k11.oof["pseudonym"]))
    assert result.n_patients == len(shared)
    assert any(
        n.startswith(
            "held (Clinical) is not compared here: it was evaluated on a hold-out of "
            f"{len(held.oof)} patients"
        )
        for n in result.notes
    )
    assert "k11 (Clinical): the same folds as geno (Clinical)." in result.notes
    # every model's pooled AUC, by counting pairs on exactly the shared patients
    k = k11.oof.set_index("pseudonym").loc[shared]
    pooled = result.table[result.table["center"] == POOLED].set_index("model")
    expected = _auc_by_counting(k["p_kit11"].to_numpy(), k["label"].to_numpy())
    assert pooled.loc["k11 (Clinical)", "auc"] == pytest.approx(expected)
    g = geno.oof.set_index("pseudonym").loc[shared]
    expected = _auc_by_counting(g["p_kit11"].to_numpy(), (g["label"] == 0).to_numpy().astype(int))
    assert pooled.loc["geno (Clinical)", "auc"] == pytest.approx(expected)
    assert (pooled["n"] == len(shared)).all()
    # per center, each model with its CI, and the paired test against the first model
    assert set(result.table["center"]) == {"Alpha", "Beta", POOLED}
    per_center = result.table.groupby("center")["n"].first()
    assert per_center["Alpha"] + per_center["Beta"] == len(shared)
    lower, upper = result.table["auc_ci_lower"], result.table["auc_ci_upper"]
    assert ((lower <= result.table["auc"]) & (result.table["auc"] <= upper)).all()
    paired = result.paired.set_index("center")
    assert list(paired["model"].unique()) == ["k11 (Clinical)"]
    assert paired.loc[POOLED, "auc_first"] == pytest.approx(pooled.loc["geno (Clinical)", "auc"])
    assert paired.loc[POOLED, "difference"] == pytest.approx(
        pooled.loc["geno (Clinical)", "auc"] - pooled.loc["k11 (Clinical)", "auc"]
    )
    assert ((paired["p_value"] > 0) & (paired["p_value"] <= 1)).all()


def test_a_hold_out_model_is_compared_with_the_others_on_its_hold_out_patients(
    store: Engine,
) -> None:
    with Session(store) as s:
        held = _detail(s, "held")
        result = compare_on_shared_patients(s, EVERYTHING, held, "kit11_vs_rest")
    assert result.models[0] == "held (Clinical)"  # the model the page is about, first
    assert sorted(result.models[1:]) == ["geno (Clinical)", "k11 (Clinical)"]
    assert result.n_patients == held.oof["pseudonym"].nunique() < 80
    assert result.notes[0] == (
        f"held (Clinical) was evaluated on a hold-out of {len(held.oof)} patients: every model "
        f"is compared on the {result.n_patients} of them that all predicted out of fold, so the "
        "per-center intervals are wide."
    )


def test_meeting_the_ceiling_is_explained_by_the_interval() -> None:
    table = pd.DataFrame(
        {
            "center": ["Alpha", "Beta", "Gamma", POOLED],
            "n": [12, 40, 6, 58],
            "auc": [0.93, 0.80, 0.99, 0.93],
            "auc_ci_lower": [0.70, 0.70, np.nan, 0.91],
            "auc_ci_upper": [1.00, 0.90, np.nan, 0.95],
        }
    )
    ceiling = {"Alpha": 0.90, "Beta": 0.85, "Gamma": 0.9, POOLED: 0.88}
    notes = reference_notes(table, ceiling, "synthetic ceiling")
    assert notes == [
        "Alpha: AUC 0.93 meets or passes the synthetic ceiling (0.90) on 12 patients. Its 95 % "
        "CI (0.70–1.00) holds the synthetic ceiling: sampling error — on a small sample a model "
        "can rank these patients a little better than the true probabilities do, by chance.",
        "Gamma: AUC 0.99 meets or passes the synthetic ceiling (0.90) on 6 patients. Too few "
        "patients of a class for a CI: with so few, sampling error alone can put a model above "
        "the ceiling.",
        "All centers: AUC 0.93 meets or passes the synthetic ceiling (0.88) on 58 patients. Its "
        "95 % CI (0.91–0.95) lies above it, more than sampling error explains: check the model "
        "for leakage of the label.",
    ]  # Beta (0.80 under 0.85) gets none
