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
        """Where the schema stands; the caller says how to upgrade (a command, a page)."""
        if self.current is None:
            return f"empty database (no schema); the newest revision is {self.head}"
        if self.is_current:
            return f"up to date at revision {self.head}"
        return f"at revision {self.current}, older than the newest revision {self.head}"


class SchemaNotReady(ConfigError):
    """The database has no schema, or an older one than the migrations in ``db/``.

    Attributes
    ----------
    status
        Where the database stands.
    """

    def __init__(self, status: MigrationStatus) -> None:
        super().__init__(f"the database is not ready: {status.describe()}")
        self.status = status


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
    SchemaNotReady
        When the schema is missing or outdated (the caller says how to upgrade it).
    """
    engine = make_engine(url)
    state = status(engine)
    if not state.is_current:
        engine.dispose()
        raise SchemaNotReady(state)
    return engine
