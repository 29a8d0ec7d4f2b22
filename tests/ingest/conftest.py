"""Fixtures of the import tests that run the command line on a data folder of their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gistcad.cli import main


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An upgraded SQLite data folder that the commands of the test use."""
    data = tmp_path / "data"
    monkeypatch.setenv("GISTCAD_DATA_DIR", str(data))
    monkeypatch.delenv("GISTCAD_DB_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    return data
