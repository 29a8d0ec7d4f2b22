"""A case prediction uses the current version of each question: genotype, risk score, and
response where a response model is registered."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.cli import main
from gistcad.domain import CURRENT_MODELS, JobStatus
from gistcad.errors import ValidationError
from gistcad.modelling.current import current_versions
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.models import Job, ModelVersion, Patient, Prediction
from tests.factories import seed_cohort

EVERYTHING = AccessScope.everything()


def _versions(*rows: tuple[int, str, str]) -> pd.DataFrame:
    """Versions newest first, as ``list_model_versions`` gives them."""
    return pd.DataFrame(rows, columns=["model_version_id", "name", "target"])


def test_the_newest_version_of_each_question_is_current() -> None:
    versions = _versions(
        (5, "risk-new", "risk"),
        (4, "k11", "kit11"),
        (3, "geno-new", "genotype"),
        (2, "risk-old", "risk"),
        (1, "geno-old", "genotype"),
    )
    chosen = {c.question: (c.model_version_id, c.name) for c in current_versions(versions)}
    # the four-class genotype model is preferred to a newer KIT exon 11 one
    assert chosen == {"genotype": (3, "geno-new"), "risk score": (5, "risk-new")}


def test_without_a_genotype_model_a_case_is_not_predicted(engine: Engine, tmp_path: Path) -> None:
    with Session(engine) as s:
        s.query(Prediction).delete()
        s.query(ModelVersion).delete()
        s.commit()
    job = jobs.submit(engine, "predict", {"models": CURRENT_MODELS}, EVERYTHING)
    assert jobs.run(engine, tmp_path, job) is JobStatus.FAILED
    with Session(engine) as s:
        error = s.get(Job, job).error  # type: ignore[union-attr]
    assert error is not None and error.startswith("no genotype model is registered; train one")


def test_a_response_model_is_used_where_one_is_registered() -> None:
    versions = _versions(
        (3, "prog", "progression_6m"), (2, "choi", "choi_pr_fu1"), (1, "k", "kit11")
    )
    chosen = {c.question: c.name for c in current_versions(versions)}
    assert chosen == {"genotype": "k", "response": "choi"}


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=40, with_series=True)
        s.commit()
    return engine


def _train(engine: Engine, data: Path, target: str, name: str) -> None:
    job = jobs.submit(
        engine, "train", {"kind": "clinical", "target": target, "name": name}, EVERYTHING
    )
    assert jobs.run(engine, data, job) is JobStatus.SUCCEEDED


def test_a_case_prediction_job_predicts_with_every_current_model(
    engine: Engine, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="needs a model version id"):
        jobs.check_parameters(jobs.JobKind.PREDICT, {"pseudonyms": ["P"]})
    with pytest.raises(ValidationError, match="'current' or absent"):
        jobs.check_parameters(jobs.JobKind.PREDICT, {"models": "all"})
    with pytest.raises(ValidationError, match="centers must be a list of center names"):
        jobs.check_parameters(jobs.JobKind.PREDICT, {"model_version_id": 1, "centers": "Alpha"})
    with pytest.raises(ValidationError, match="predicts named patients or all, not centers"):
        jobs.check_parameters(jobs.JobKind.PREDICT, {"models": CURRENT_MODELS, "centers": ["A"]})
    jobs.check_parameters(jobs.JobKind.PREDICT, {"model_version_id": 1, "centers": ["Alpha"]})
    for target, name in (("genotype", "g-old"), ("genotype", "g-new"), ("risk", "r")):
        _train(engine, tmp_path, target, name)
    with Session(engine) as s:
        ids = {name: id_ for name, id_ in s.execute(select(ModelVersion.name, ModelVersion.id))}
        del ids["clinical-v1"]  # the seeded cohort's, with its predictions; older than these
        pseudonym = s.scalars(select(Patient.pseudonym).order_by(Patient.id)).first()
    job = jobs.submit(
        engine, "predict", {"models": CURRENT_MODELS, "pseudonyms": [pseudonym]}, EVERYTHING
    )
    assert jobs.run(engine, tmp_path, job) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        message = s.get(Job, job).message  # type: ignore[union-attr]
        by = s.scalars(
            select(Prediction.model_version_id).where(Prediction.model_version_id.in_(ids.values()))
        ).all()
    assert message == "genotype: 1 by g-new; risk score: 1 by r"
    assert sorted(by) == sorted([ids["g-new"], ids["r"]])


def test_the_predict_command_takes_the_current_models(
    engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _train(engine, tmp_path, "risk", "r")
    _train(engine, tmp_path, "genotype", "g")
    with Session(engine) as s:
        pseudonym = s.scalars(select(Patient.pseudonym).order_by(Patient.id)).first()
    assert main(["predict", "--model", "current", "--patient", str(pseudonym)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "genotype: 1 predictions written by g",
        "risk score: 1 predictions written by r",
    ]


def test_an_rfs_model_gives_the_imaging_risk_score_where_one_is_registered() -> None:
    versions = _versions((4, "score-new", "rfs"), (3, "score-old", "rfs"), (1, "g", "genotype"))
    chosen = {c.question: c.name for c in current_versions(versions)}
    assert chosen == {"genotype": "g", "imaging risk score": "score-new"}
