"""Accounts and the audit trail at the command line, and serve's refusal to be exposed."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from gistcad.cli import main
from gistcad.commands import serve
from gistcad.store import make_engine
from tests.factories import add_center

ADMIN_PASSWORD = "admin-password-1"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(tmp_path))
    for var in ("GISTCAD_DB_URL", "GISTCAD_AUTH", "GISTCAD_USER", "GISTCAD_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["db", "upgrade"]) == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'gistcad.sqlite'}")
    with Session(engine) as s:
        add_center(s, "Alpha")
        add_center(s, "Beta")
        s.commit()
    engine.dispose()
    return tmp_path


def _stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text + "\n"))


def test_users_lifecycle_and_its_audit(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "list"]) == 0
    assert "no accounts yet" in capsys.readouterr().out
    assert main(["users", "add", "dr.who", "--role", "pi", "--centers", "Alpha"]) == 0
    out = capsys.readouterr().out
    assert "account dr.who created: pi, Alpha" in out
    temporary = out.split("first sign-in): ")[1].strip()
    _stdin(monkeypatch, ADMIN_PASSWORD)
    assert main(["users", "add", "root", "--role", "admin", "--password-stdin"]) == 0
    assert "temporary" not in capsys.readouterr().out
    assert main(["users", "disable", "dr.who"]) == 0
    assert main(["users", "list", "--json"]) == 0
    listed = {u["name"]: u for u in json.loads(capsys.readouterr().out.split("\n", 1)[1])}
    assert listed["dr.who"]["status"] == "disabled" and listed["dr.who"]["centers"] == "Alpha"
    assert listed["root"]["status"] == "active" and listed["root"]["centers"] == "all"
    assert main(["users", "enable", "dr.who"]) == 0
    assert main(["users", "reset-password", "dr.who"]) == 0
    new_temporary = capsys.readouterr().out.split("first sign-in): ")[1].strip()
    assert new_temporary != temporary
    # no password ever reaches the database or the trail in clear
    raw = (data_dir / "gistcad.sqlite").read_bytes()
    assert temporary.encode() not in raw and ADMIN_PASSWORD.encode() not in raw
    assert main(["audit", "--action", "user", "--csv"]) == 0
    csv = capsys.readouterr().out
    for action in ("user.add", "user.disable", "user.enable", "user.reset"):
        assert action in csv
    assert "cli:" in csv  # the operator is named


def test_account_errors_name_the_option_that_fixes_them(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "add", "root", "--role", "admin", "--centers", "Alpha"]) == 2
    err = capsys.readouterr().err
    assert "role admin sees every center" in err and err.rstrip().endswith("leave out --centers")
    assert main(["users", "add", "bob", "--role", "pi"]) == 2
    err = capsys.readouterr().err
    assert "role pi sees only the centers it is given" in err
    assert err.rstrip().endswith("add --centers A,B")
    for action in ("disable", "enable", "reset-password"):
        assert main(["users", action, "nobody"]) == 2
        err = capsys.readouterr().err
        assert "no account named 'nobody'; 'gistcad users list' shows them" in err


def test_user_option_runs_in_that_accounts_scope(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, "pi-password-77")
    assert (
        main(["users", "add", "alice", "--role", "pi", "--centers", "Alpha", "--password-stdin"])
        == 0
    )
    capsys.readouterr()
    monkeypatch.setenv("GISTCAD_PASSWORD", "pi-password-77")
    assert main(["--user", "alice", "users", "list"]) == 2
    assert "alice (pi) may not manage users" in capsys.readouterr().err
    assert main(["--user", "alice", "audit"]) == 2
    assert "may not view audit" in capsys.readouterr().err
    monkeypatch.setenv("GISTCAD_PASSWORD", "wrong-password")
    assert main(["--user", "alice", "jobs", "list"]) == 2
    assert "Unknown user name or wrong password" in capsys.readouterr().err
    monkeypatch.delenv("GISTCAD_PASSWORD")
    assert main(["audit", "--actor", "alice", "--action", "login"]) == 0
    trail = capsys.readouterr().out
    assert "login.ok" in trail and "login.failed" in trail


def test_serve_refuses_exposure_until_login_and_an_admin(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(os, "execve", lambda path, cmd, env: started.append(cmd))
    assert main(["serve", "--address", "0.0.0.0"]) == 2
    assert "without login" in capsys.readouterr().err
    assert main(["serve", "--address", "0.0.0.0", "--auth", "local"]) == 2
    err = capsys.readouterr().err
    assert "no enabled admin account" in err and err.count("\n") == 1
    assert main(["serve", "--address", "0.0.0.0", "--auth", "oidc"]) == 2
    assert "secrets.toml is missing" in capsys.readouterr().err
    assert not started
    _stdin(monkeypatch, ADMIN_PASSWORD)
    assert main(["users", "add", "root", "--role", "admin", "--password-stdin"]) == 0
    assert main(["serve", "--address", "0.0.0.0", "--auth", "local"]) == 0
    assert len(started) == 1
    cmd = started[0]
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--client.disableDataExport") + 1] == "true"
    assert main(["users", "disable", "root"]) == 0
    assert main(["serve", "--address", "0.0.0.0", "--auth", "local"]) == 2
    # the single-user workstation on localhost needs nothing
    assert main(["serve"]) == 0
    assert started[-1][started[-1].index("--client.disableDataExport") + 1] == "false"


def test_oidc_needs_a_provider_and_an_admin_rule(data_dir: Path) -> None:
    secrets = data_dir / "secrets.toml"
    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    auth = serve.AuthMode.OIDC
    secrets.write_text('[gistcad.oidc]\nrules = [{group = "g", role = "admin"}]\n')
    with pytest.raises(serve.ConfigError, match=r"no \[auth\] section"):
        serve.check_exposure("0.0.0.0", auth, engine, secrets)
    secrets.write_text(
        '[auth]\ncookie_secret = "s"\nredirect_uri = "https://x/oauth2callback"\n'
        '[gistcad.oidc]\nrules = [{group = "g", role = "pi", centers = ["Alpha"]}]\n'
    )
    with pytest.raises(serve.ConfigError, match="gives the admin role"):
        serve.check_exposure("0.0.0.0", auth, engine, secrets)
    secrets.write_text(
        '[auth]\ncookie_secret = "s"\nredirect_uri = "https://x/oauth2callback"\n'
        '[gistcad.oidc]\nrules = [{group = "g", role = "admin"}]\n'
    )
    serve.check_exposure("0.0.0.0", auth, engine, secrets)
    engine.dispose()


def test_an_unknown_model_lists_only_the_models_the_caller_sees_and_jobs_run_checks_the_user(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy import select

    from gistcad.domain import ModelKind
    from gistcad.store.models import Center, Job, ModelVersion, Prediction
    from tests.factories import add_patient

    engine = make_engine(f"sqlite:///{data_dir / 'gistcad.sqlite'}")
    with Session(engine) as s:
        centers = {c.name: c for c in s.scalars(select(Center))}
        for name, center in centers.items():
            patient = add_patient(s, center, f"GIST-{name.upper()}")
            version = ModelVersion(name=f"model-of-{name}", kind=ModelKind.CLINICAL, target="kit11")
            s.add(version)
            s.flush()
            s.add(
                Prediction(
                    patient_id=patient.id,
                    model_version_id=version.id,
                    probabilities={"kit11": 0.5},
                    predicted_class="kit11",
                )
            )
        s.add(Job(kind="predict", parameters={}, center_ids=[centers["Beta"].id]))
        s.commit()
        beta_job = s.scalar(select(Job.id))
    engine.dispose()
    _stdin(monkeypatch, "pi-password-77")
    assert (
        main(["users", "add", "alice", "--role", "pi", "--centers", "Alpha", "--password-stdin"])
        == 0
    )
    monkeypatch.setenv("GISTCAD_PASSWORD", "pi-password-77")
    capsys.readouterr()
    assert main(["--user", "alice", "evaluate", "--model", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "model-of-Alpha" in err and "model-of-Beta" not in err
    assert main(["evaluate", "--model", "nonesuch"]) == 2  # the operator sees every model
    assert "model-of-Beta" in capsys.readouterr().err
    # a PI cannot run another center's job by its id: it does not exist for them
    assert main(["--user", "alice", "jobs", "run", str(beta_job)]) == 2
    assert f"no job {beta_job}" in capsys.readouterr().err
