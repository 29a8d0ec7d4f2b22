"""Contract: a user of center A learns nothing about center B, on any page or CLI read command.

Two databases hold the same center A (patients, outcomes, predictions, a job) and different
center B data (other patients, other counts, other outcomes, other out-of-fold predictions of
the shared model, other jobs), plus an all-center job of the operator. Signed in as a PI of
center A, every page and every CLI read command must render exactly the same in both: any
identifier, count or aggregate that depends on B — a pooled statistic, a total, a model
card's patient count, a jobs list entry — would make them differ. On top, no B identifier
(center name, pseudonym) may appear anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sqlalchemy.orm import Session
from streamlit.testing.v1 import AppTest

from gistcad.auth.manage import add_account
from gistcad.cli import main
from gistcad.domain import GenotypeDetail, JobStatus, ModelKind, Role, Site
from gistcad.modelling.evaluation import evaluate
from gistcad.modelling.targets import Target
from gistcad.modelling.trainer import TrainRequest, model_card
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import Job, ModelVersion, Prediction
from tests.app.conftest import APP, ROOT
from tests.factories import add_center, add_patient

PASSWORD = "alpha-pi-password"
B_NAME = "Beta-Canary"
GENOTYPES = [
    GenotypeDetail.KIT11_DEL_557_558,
    GenotypeDetail.KIT11_SUBSTITUTION,
    GenotypeDetail.KIT9,
    GenotypeDetail.PDGFRA_D842V,
    GenotypeDetail.WT_OTHER,
]
CLASSES = ("kit11", "kit9", "pdgfra", "wt_other")
LABEL = {
    GenotypeDetail.KIT11_DEL_557_558: 0,
    GenotypeDetail.KIT11_SUBSTITUTION: 0,
    GenotypeDetail.KIT9: 1,
    GenotypeDetail.PDGFRA_D842V: 2,
    GenotypeDetail.WT_OTHER: 3,
}
FIXED_TIME = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
#: center B differs between the two worlds in size and in every random draw
WORLDS = {"b-small": (9, 101), "b-large": (23, 202)}
PAGES = ["home", "cohort", "survival", "performance", "jobs", "case", "biomarkers"]


def _patients(session: Session, center: Any, prefix: str, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        genotype = GENOTYPES[int(rng.integers(len(GENOTYPES)))]
        patient = add_patient(
            session,
            center,
            f"{prefix}-{i:03d}",
            site=Site.STOMACH if rng.random() < 0.6 else Site.JEJUNUM_ILEUM,
            size_cm=float(rng.uniform(1.5, 15)),
            genotype=genotype,
            age=float(rng.uniform(30, 85)),
            rfs=(float(rng.uniform(2, 120)), int(rng.random() < 0.4)),
        )
        probabilities = rng.dirichlet(np.ones(4) + 2 * (np.arange(4) == LABEL[genotype]))
        rows.append((patient, LABEL[genotype], probabilities))
    return rows


def build_world(data_dir: Path, n_b: int, seed_b: int) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        alpha, beta = add_center(s, "Alpha"), add_center(s, B_NAME)
        a_rows = _patients(s, alpha, "A", 16, seed=7)
        b_rows = _patients(s, beta, "B", n_b, seed=seed_b)
        oof = pd.DataFrame(
            [
                {
                    "patient_id": p.id,
                    "pseudonym": p.pseudonym,
                    "center": p.center.name,
                    "fold": f"fold {i % 3}",
                    "label": label,
                    **{f"p_{c}": float(v) for c, v in zip(CLASSES, prob, strict=True)},
                }
                for i, (p, label, prob) in enumerate(a_rows + b_rows)
            ]
        )
        request = TrainRequest(ModelKind.CLINICAL, Target.GENOTYPE, name="clin-shared")
        metrics: dict[str, Any] = {
            "evaluation": evaluate(oof, Target.GENOTYPE).to_dict(),
            "oof": json.loads(oof.to_json(orient="records")),
            "n_patients": len(oof),
        }
        metrics["card"] = model_card(request, oof, metrics)
        model = ModelVersion(
            name="clin-shared",
            kind=ModelKind.CLINICAL,
            target="genotype",
            metrics=metrics,
            created_at=FIXED_TIME,
        )
        s.add(model)
        s.flush()
        for patient, _, prob in a_rows + b_rows:
            s.add(
                Prediction(
                    patient_id=patient.id,
                    model_version_id=model.id,
                    probabilities=dict(zip(CLASSES, map(float, prob), strict=True)),
                    predicted_class=CLASSES[int(np.argmax(prob))],
                    created_at=FIXED_TIME,
                )
            )
        for who, center, rows in (("alice", alpha, a_rows), ("bob", beta, b_rows)):
            s.add(
                Job(
                    kind="predict",
                    parameters={
                        "model_version_id": model.id,
                        "pseudonyms": [p.pseudonym for p, _, _ in rows],
                    },
                    status=JobStatus.SUCCEEDED,
                    progress=1.0,
                    message=f"{len(rows)} predictions written",
                    submitted_by=who,
                    center_ids=[center.id],
                    created_at=FIXED_TIME,
                )
            )
        s.add(
            Job(
                kind="train",
                parameters={"kind": "clinical", "note": f"all {len(a_rows) + n_b} patients"},
                status=JobStatus.FAILED,
                error=f"{B_NAME} had a problem",
                created_at=FIXED_TIME,
            )
        )
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], PASSWORD)
        add_account(s, operator, "bob", Role.PI, [B_NAME], "beta-pi-password")
        add_account(s, operator, "root", Role.ADMIN, [], "admin-password-1")
        s.commit()
    engine.dispose()


@pytest.fixture(scope="module")
def worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = {}
    for name, (n_b, seed_b) in WORLDS.items():
        data_dir = tmp_path_factory.mktemp(name)
        build_world(data_dir, n_b, seed_b)
        made[name] = data_dir
    return made


@pytest.fixture
def in_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def enter(data_dir: Path) -> None:
        monkeypatch.setenv("GISTCAD_DATA_DIR", str(data_dir))
        monkeypatch.setenv("GISTCAD_AUTH", "local")
        monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
        monkeypatch.chdir(ROOT)
        st.cache_resource.clear()
        st.cache_data.clear()

    yield enter
    st.cache_resource.clear()


def _walk(node: Any) -> Iterator[Any]:
    children = getattr(node, "children", None)
    if isinstance(children, dict):
        for child in children.values():
            yield from _walk(child)
    elif getattr(node, "proto", None) is not None:
        yield node


def render(page: str, user: str = "alice", password: str = PASSWORD) -> list[str]:
    """Every element the page draws for ``user``, as protobuf text (tables, charts included)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["patient"] = "A-003"
    at.run()
    at.text_input(key="login_name").input(user)
    at.text_input(key="login_password").input(password)
    at.button(key="login_submit").click().run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    assert at.title, f"{page}: nothing rendered"
    # a deferred download's file id is random per run; its content is the table shown
    return [
        re.sub(r'deferred_file_id: "\w+"', "deferred_file_id", f"{type(e).__name__}: {e.proto}")
        for e in _walk(at._tree)
    ]


def _no_b_identifier(text: str, where: str) -> None:
    assert B_NAME not in text, f"{where} names center B"
    assert not re.search(r"\bB-\d{3}\b", text), f"{where} shows a center-B pseudonym"


@pytest.mark.parametrize("page", PAGES)
def test_pages_show_nothing_of_center_b(page: str, worlds: dict[str, Path], in_world: Any) -> None:
    seen = {}
    for name, data_dir in worlds.items():
        in_world(data_dir)
        seen[name] = render(page)
        _no_b_identifier("\n".join(seen[name]), f"{page} page ({name})")
    small, large = seen.values()
    differing = [a for a, b in zip(small, large, strict=False) if a != b]
    assert len(small) == len(large) and not differing, (
        f"{page} depends on center B's data: {differing[:1]}"
    )
    # home, jobs and biomarkers (before a discovery is run) list no patient
    assert any("A-0" in line for line in small) or page in ("home", "jobs", "biomarkers")


CLI_READS = [
    ["survival", "--by", "genotype", "--min-group-size", "2", "--json"],
    ["survival", "--by", "center", "--min-group-size", "2", "--json"],
    ["survival", "--by", "risk", "--min-group-size", "2"],
    ["survival", "--by", "predicted", "--model", "clin-shared", "--min-group-size", "2"],
    ["evaluate", "--model", "clin-shared", "--json"],
    ["evaluate", "--model", "clin-shared"],
    ["jobs", "list", "--json"],
    ["cohort", "--json"],
    ["cohort", "--risk-scheme", "afip2006", "--table-one", "genotype", "--csv"],
]


@pytest.mark.parametrize("command", CLI_READS, ids=lambda c: " ".join(c[:3]))
def test_cli_reads_show_nothing_of_center_b(
    command: list[str],
    worlds: dict[str, Path],
    in_world: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GISTCAD_PASSWORD", PASSWORD)
    outputs = []
    for name, data_dir in worlds.items():
        in_world(data_dir)
        assert main(["--user", "alice", *command]) == 0
        out = capsys.readouterr().out
        _no_b_identifier(out, f"{' '.join(command)} ({name})")
        outputs.append(out)
    assert outputs[0] == outputs[1], f"{' '.join(command)} depends on center B's data"
    assert "A-0" in outputs[0] or command[0] != "jobs"


@pytest.mark.parametrize("command", [["users", "list"], ["audit"]])
def test_cli_admin_reads_are_refused(
    command: list[str],
    worlds: dict[str, Path],
    in_world: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GISTCAD_PASSWORD", PASSWORD)
    in_world(worlds["b-small"])
    assert main(["--user", "alice", *command]) == 2
    assert "alice (pi) may not" in capsys.readouterr().err


@pytest.mark.parametrize("page", ["home", "performance", "jobs"])
def test_the_comparison_detects_what_an_administrator_may_see(
    page: str, worlds: dict[str, Path], in_world: Any
) -> None:
    """The same comparison for an administrator, who sees every center, tells the worlds apart."""
    seen = []
    for data_dir in worlds.values():
        in_world(data_dir)
        seen.append(render(page, "root", "admin-password-1"))
    assert seen[0] != seen[1]
    assert B_NAME in "\n".join(seen[0]) or page == "home"
