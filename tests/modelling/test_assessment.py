"""evaluate_version: one version beside the others and the ceiling, in the caller's scope."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad.domain import Role
from gistcad.errors import NotFoundError, ValidationError
from gistcad.layout import DataLayout
from gistcad.modelling.assessment import CEILING, evaluate_version
from gistcad.modelling.evaluation import POOLED
from gistcad.modelling.oracle_link import (
    COLUMNS,
    REFERENCE_COLUMNS,
    RESPONSE_COLUMNS,
    find_oracle,
)
from gistcad.modelling.request import TrainRequest
from gistcad.modelling.trainer import train_and_register
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import AuditEvent
from tests.factories import seed_cohort

EVERYTHING = AccessScope.everything()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, DataLayout]:
    """Two clinical genotype models (seeds 0 and 1) beside seed_cohort's bare model row."""
    root = tmp_path_factory.mktemp("assessment")
    engine = make_engine(f"sqlite:///{root / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=80, with_series=True)
        for seed in (0, 1):
            request = TrainRequest.from_parameters(
                {"kind": "clinical", "name": f"clin-{seed}", "seed": seed}
            )
            train_and_register(s, EVERYTHING, root, request)
        s.commit()
    return engine, DataLayout(root)


def _oracle_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join(["center", "hospital_id", *COLUMNS])
    path.write_text(f"{header}\nAlpha,001,{','.join(['0.5'] * len(COLUMNS))}\n")


def test_a_version_beside_the_others_with_its_margin(trained: tuple[Engine, DataLayout]) -> None:
    engine, layout = trained
    with Session(engine) as s:
        assessment = evaluate_version(s, EVERYTHING, layout, "clin-0", baselines=True)
        other = evaluate_version(s, EVERYTHING, layout, "clin-1")
        audited = s.scalars(select(AuditEvent.action).where(AuditEvent.action == "train")).all()
    assert audited == ["train", "train"]  # one audit row per registered version
    assert assessment.detail.name == "clin-0" and other.references == {}
    tasks = set(assessment.evaluation.tables)
    assert tasks == {"kit11_vs_rest", "kit_mutant_vs_not", "pdgfra_vs_rest"}
    for task in tasks:
        # the other clinical version of the same target; not the bare row (no evaluation)
        assert list(assessment.references[task]) == ["clin-1 (Clinical)"]
        reference = assessment.references[task]["clin-1 (Clinical)"]
        theirs = other.evaluation.tables[task].set_index("center")["auc"]
        assert reference == pytest.approx(theirs.to_dict())  # point AUCs, no bootstrap needed
        mine = assessment.evaluation.tables[task].set_index("center")["auc"]
        margin = assessment.margin(task, "clin-1 (Clinical)")
        assert set(margin) == {"Alpha", "Beta", POOLED}
        assert margin[POOLED] == pytest.approx(mine[POOLED] - theirs[POOLED])
    assert CEILING not in assessment.references["kit11_vs_rest"]  # no oracle in this folder


def test_only_the_centers_in_scope_count(trained: tuple[Engine, DataLayout]) -> None:
    engine, layout = trained
    alpha = AccessScope(center_ids=frozenset({1}), role=Role.PI, user="alice")
    with Session(engine) as s:
        assessment = evaluate_version(s, alpha, layout, "clin-0", baselines=True)
    table = assessment.evaluation.tables["kit11_vs_rest"]
    assert list(table["center"]) == ["Alpha", POOLED]
    assert set(assessment.references["kit11_vs_rest"]["clin-1 (Clinical)"]) == {"Alpha", POOLED}


def test_what_cannot_be_evaluated_says_why(trained: tuple[Engine, DataLayout]) -> None:
    engine, layout = trained
    with Session(engine) as s:
        with pytest.raises(ValidationError, match=r"^clinical-v1 has no out-of-fold predictions"):
            evaluate_version(s, EVERYTHING, layout, "clinical-v1")
        with pytest.raises(NotFoundError, match="no model version 'nonesuch'; known model"):
            evaluate_version(s, EVERYTHING, layout, "clin-0", compare="nonesuch")
        compared = evaluate_version(s, EVERYTHING, layout, 2, compare="clin-1")
    assert compared.comparison is not None
    assert compared.comparison["other"] == "clin-1" and compared.comparison["n"] == 80


def test_the_demo_oracle_is_found_but_never_creates_the_key(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    assert find_oracle(layout) is None  # no demo built here
    _oracle_file(layout.demo_oracle)
    assert find_oracle(layout) is None  # nothing imported: no key, no patient to link
    assert not layout.pseudonym_key.exists()
    explicit = tmp_path / "elsewhere" / "oracle.csv"
    _oracle_file(explicit)
    with pytest.raises(ValidationError, match="has no pseudonym key, so nothing was imported"):
        find_oracle(layout, explicit)
    assert not layout.pseudonym_key.exists()
    layout.pseudonym_key.write_bytes(bytes(range(32)))
    oracle = find_oracle(layout)
    expected = ["pseudonym", *COLUMNS, *REFERENCE_COLUMNS, *RESPONSE_COLUMNS]
    assert oracle is not None and list(oracle.columns) == expected
    assert oracle["pseudonym"].str.startswith("GIST-").all()


def test_the_ceiling_is_a_reference_when_an_oracle_is_found(
    trained: tuple[Engine, DataLayout], tmp_path: Path
) -> None:
    engine, _ = trained
    layout = DataLayout(tmp_path)
    _oracle_file(layout.demo_oracle)
    layout.pseudonym_key.write_bytes(bytes(range(32)))
    with Session(engine) as s:
        assessment = evaluate_version(s, EVERYTHING, layout, "clin-0")
    ceiling = assessment.references["kit11_vs_rest"][CEILING]
    # the oracle names none of seed_cohort's patients: the ceiling is unknown, not invented
    assert set(ceiling) == {"Alpha", "Beta", POOLED}
    assert all(math.isnan(v) for v in ceiling.values())
    assert np.isnan(assessment.margin("kit11_vs_rest", CEILING)[POOLED])
