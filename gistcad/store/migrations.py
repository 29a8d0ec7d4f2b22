"""Run the Alembic migrations in ``db/`` from Python (used by the CLI and the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from gistcad.errors import ConfigError
from gistcad.store.engine import make_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "db"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that runs on ``engine`` (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: the newest)."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade the database to ``revision`` (default: empty)."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


@dataclass(frozen=True)
class MigrationStatus:
    """Where a database stands against the migrations."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if self.current is None:
            return f"empty database (no schema); run 'gistcad db upgrade' to reach {self.head}"
        if self.is_current:
            return f"up to date at revision {self.head}"
        return f"at revision {self.current}; head is {self.head}: run 'gistcad db upgrade'"


def status(engine: Engine) -> MigrationStatus:
    """Compare the database's revision with the newest migration."""
    script = ScriptDirectory.from_config(alembic_config(engine))
    head = script.get_current_head()
    assert head is not None, "db/versions holds no migration"
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return MigrationStatus(current=current, head=head)


def ready_engine(url: URL | str) -> Engine:
    """An engine on a database whose schema is current, for commands that read or write data.

    Raises
    ------
    ConfigError
        When the schema is missing or outdated, saying which command fixes it.
    """
    engine = make_engine(url)
    state = status(engine)
    if not state.is_current:
        engine.dispose()
        raise ConfigError(f"the database is not ready: {state.describe()}")
    return engine
