"""Settings: defaults, and one-line errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from gistcad.config import load_settings
from gistcad.errors import ConfigError


def test_defaults_put_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    settings = load_settings({"GISTCAD_DATA_DIR": str(tmp_path / "d")})
    assert settings.data_dir == (tmp_path / "d").resolve()
    assert settings.data_dir.is_dir()
    assert settings.backend == "sqlite"
    assert settings.db_url.database == str(settings.data_dir / "gistcad.sqlite")


def test_default_data_folder_is_dot_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings({}).data_dir == (tmp_path / "data").resolve()


def test_postgres_url_is_accepted(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    settings = load_settings({"GISTCAD_DATA_DIR": str(tmp_path), "GISTCAD_DB_URL": url})
    assert settings.backend == "postgresql"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "GISTCAD_DB_URL is not a database URL"),
        ("mysql://root@localhost/test", "GISTCAD_DB_URL names the unsupported database 'mysql'"),
        ("sqlite://", "GISTCAD_DB_URL must name a SQLite file"),
    ],
)
def test_bad_db_url(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_settings({"GISTCAD_DATA_DIR": str(tmp_path), "GISTCAD_DB_URL": url})
    assert "\n" not in str(info.value)


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ConfigError, match=r"GISTCAD_DATA_DIR=.* is a file"):
        load_settings({"GISTCAD_DATA_DIR": str(file)})


def test_data_dir_that_cannot_be_created() -> None:
    # /proc refuses new folders even for root, so this runs everywhere.
    with pytest.raises(
        ConfigError, match="GISTCAD_DATA_DIR='/proc/gistcad' is not a writable folder"
    ):
        load_settings({"GISTCAD_DATA_DIR": "/proc/gistcad"})
