"""Every audited action leaves its row: imports, training, predictions, jobs, exports.

(Sign-ins, sign-outs, idle timeouts and case views: tests/auth/test_login.py and
tests/app/test_login.py; account changes: tests/commands/test_cli_access.py.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from gistcad import jobs
from gistcad.auth.manage import add_account
from gistcad.cli import main
from gistcad.domain import JobStatus, Role
from gistcad.errors import AccessDenied
from gistcad.ingest.pseudonym import load_or_create_key
from gistcad.store import AccessScope, make_engine, migrations
from gistcad.store.exports import export_csv, export_text
from gistcad.store.models import AuditEvent, Job
from tests.factories import seed_cohort
from tests.ingest.test_clinical_import import GOOD


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    for var in ("GISTCAD_DB_URL", "GISTCAD_USER", "GISTCAD_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    migrations.upgrade(engine)
    with Session(engine) as s:
        seed_cohort(s, n=40, with_series=True)
        operator = AccessScope.everything(user="cli:test")
        add_account(s, operator, "alice", Role.PI, ["Alpha"], "alpha-pi-password")
        add_account(s, operator, "carol", Role.CLINICIAN, ["Alpha"], "clinic-pass-33")
        s.commit()
    engine.dispose()
    return tmp_path


def _trail(data_dir: Path) -> list[tuple[str, str, str | None]]:
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    with Session(engine) as s:
        rows = s.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.target).order_by(AuditEvent.id)
        ).all()
    engine.dispose()
    return [(a, b, c) for a, b, c in rows if not b.startswith(("user.", "login."))]


def test_import_train_and_predict_are_audited_with_who_did_them(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = data_dir / "clinical.csv"
    sheet.write_text(GOOD, encoding="utf-8")
    assert main(["import", "clinical", str(sheet), "--center", "Gamma"]) == 0
    assert main(["import", "clinical", str(sheet), "--center", "Gamma", "--dry-run"]) == 0
    monkeypatch.setenv("GISTCAD_PASSWORD", "alpha-pi-password")
    assert main(["--user", "alice", "import", "clinical", str(sheet), "--center", "Alpha"]) == 2
    assert "alice (pi) may not import data" in capsys.readouterr().err
    assert main(["--user", "alice", "train", "--model", "clinical", "--name", "pi-model"]) == 0
    assert main(["--user", "alice", "predict", "--model", "pi-model", "--all"]) == 0
    assert "20 predictions written" in capsys.readouterr().out  # Alpha's half only
    trail = _trail(data_dir)
    # the path is not in the trail (folders are often named after the patient), a hash keyed
    # with the data folder's pseudonym key is: a guessed name hashed without it matches nothing
    key = load_or_create_key(data_dir)
    assert trail[0][0].startswith("cli:")
    assert trail[0][1:] == ("import", f"hmac:{key.fingerprint(str(sheet.resolve()))}")
    plain = hashlib.sha256(str(sheet.resolve()).encode()).hexdigest()[:16]
    assert plain not in str(trail[0][2]) and str(sheet) not in str(trail[0][2])
    assert [(a, b) for a, b, _ in trail[1:]] == [("alice", "train"), ("alice", "predict")]
    assert len(trail) == 3  # the dry run wrote nothing, the refused import nothing either


def test_a_job_runs_in_its_owners_scope_and_is_audited(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    alice = AccessScope(center_ids=frozenset({1}), role=Role.PI, user="alice")
    train_id = jobs.submit(engine, "train", {"kind": "clinical", "name": "by-job"}, alice)
    assert jobs.run(engine, data_dir, train_id) is JobStatus.SUCCEEDED
    predict_id = jobs.submit(engine, "predict", {"model_version_id": 2}, alice)
    assert jobs.run(engine, data_dir, predict_id) is JobStatus.SUCCEEDED
    with Session(engine) as s:
        job = s.get(Job, predict_id)
        assert job is not None and job.submitted_by == "alice" and job.center_ids == [1]
        assert job.message == "20 predictions written"  # Alpha's patients, not Beta's
    clinician = AccessScope(center_ids=frozenset({1}), role=Role.CLINICIAN, user="carol")
    with pytest.raises(AccessDenied, match="may not run jobs"):
        jobs.submit(engine, "predict", {"model_version_id": 2}, clinician)
    engine.dispose()
    actions = [(a, b) for a, b, _ in _trail(data_dir)]
    assert actions == [
        ("alice", "job.submit"),
        ("alice", "train"),
        ("alice", "job.submit"),
        ("alice", "predict"),
    ]


def test_exports_are_role_checked_and_audited(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    table = pd.DataFrame({"pseudonym": ["P-000", "P-002"], "size_cm": [4.2, 7.0]})
    pi = AccessScope(center_ids=frozenset({1}), role=Role.PI, user="alice")
    clinician = AccessScope(center_ids=frozenset({1}), role=Role.CLINICIAN, user="carol")
    with Session(engine) as s:
        assert export_csv(s, pi, "cohort table", table, bulk=True).startswith("pseudonym,size_cm")
        with pytest.raises(AccessDenied, match="carol \\(clinician\\) may not bulk export"):
            export_csv(s, clinician, "cohort table", table, bulk=True)
        export_csv(s, clinician, "table one", table.describe())
        export_text(s, clinician, "case report", "<html></html>", patient="P-000")
        s.commit()
    engine.dispose()
    assert _trail(data_dir) == [
        ("alice", "export", "cohort table"),
        ("carol", "export", "table one"),
        ("carol", "export", "P-000"),
    ]
