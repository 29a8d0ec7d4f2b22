"""Settings from environment variables, validated once.

Every variable starts with ``GISTCAD_``:

============================  ======================================================
``GISTCAD_DATA_DIR``          data folder (database file, canonical volumes, model
                              weights); default ``./data``
``GISTCAD_DB_URL``            SQLAlchemy URL of the store; default SQLite file
                              ``gistcad.sqlite`` in the data folder. PostgreSQL:
                              ``postgresql+psycopg://user@host:5432/dbname``
``GISTCAD_AUTH``              dashboard login: ``none`` (single-user workstation on
                              localhost, the default), ``local`` (accounts made with
                              ``gistcad users``) or ``oidc`` (the hospital's identity
                              provider through Streamlit's ``st.login``)
``GISTCAD_IDLE_MINUTES``      sign a dashboard user out after this many minutes
                              without activity; default 15
``GISTCAD_LOCKOUT_ATTEMPTS``  failed logins in a row that lock an account; default 5
``GISTCAD_LOCKOUT_MINUTES``   how long such a lock lasts; default 15
``GISTCAD_CLUSTER``           where per-case heavy work runs (:mod:`gistcad.cluster`):
                              unset or ``auto`` (a local Dask cluster for large
                              inputs, this process for small ones), ``local``
                              (always a local cluster), ``off`` (always this
                              process) or a scheduler address ``tcp://host:8786``
============================  ======================================================

:func:`load_settings` reads them, checks them, creates the data folder if needed and
returns a frozen :class:`Settings`. A bad value raises :class:`~gistcad.errors.ConfigError`
with a one-line message naming the variable.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from gistcad.errors import ConfigError
from gistcad.layout import DataLayout

ENV_PREFIX = "GISTCAD_"
DATA_DIR_VAR = "GISTCAD_DATA_DIR"
DB_URL_VAR = "GISTCAD_DB_URL"
DEFAULT_DATA_DIR = "./data"
SQLITE_FILENAME = "gistcad.sqlite"
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
AUTH_VAR = "GISTCAD_AUTH"
IDLE_VAR = "GISTCAD_IDLE_MINUTES"
LOCKOUT_ATTEMPTS_VAR = "GISTCAD_LOCKOUT_ATTEMPTS"
LOCKOUT_MINUTES_VAR = "GISTCAD_LOCKOUT_MINUTES"
CLUSTER_VAR = "GISTCAD_CLUSTER"


class AuthMode(StrEnum):
    """How the dashboard knows who is asking."""

    NONE = "none"
    LOCAL = "local"
    OIDC = "oidc"


class ClusterMode(StrEnum):
    """Where per-case heavy work runs (``GISTCAD_CLUSTER``)."""

    AUTO = "auto"  # a local cluster when the input is large, else this process
    LOCAL = "local"  # always a local cluster of worker processes
    OFF = "off"  # always in this process, one case after another
    REMOTE = "remote"  # a running Dask scheduler at ``ClusterSetting.address``


@dataclass(frozen=True)
class ClusterSetting:
    """The validated ``GISTCAD_CLUSTER``: a mode and, for a running scheduler, its address."""

    mode: ClusterMode = ClusterMode.AUTO
    address: str | None = None


@dataclass(frozen=True)
class LoginPolicy:
    """Idle timeout and the throttling of failed logins."""

    idle_timeout: dt.timedelta = dt.timedelta(minutes=15)
    max_failures: int = 5
    lockout: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Settings:
    """Validated settings.

    Attributes
    ----------
    data_dir
        Absolute path of the data folder; it exists and is writable.
    db_url
        The store's SQLAlchemy URL (password hidden when printed).
    """

    data_dir: Path
    db_url: URL
    auth: AuthMode = AuthMode.NONE
    login: LoginPolicy = field(default_factory=LoginPolicy)
    cluster: ClusterSetting = field(default_factory=ClusterSetting)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.db_url.get_backend_name()

    @property
    def layout(self) -> DataLayout:
        """Where each kind of file lives in the data folder."""
        return DataLayout(self.data_dir)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the ``GISTCAD_*`` variables.

    Parameters
    ----------
    environ
        The environment to read; ``os.environ`` when omitted (tests pass a dict).

    Raises
    ------
    ConfigError
        When the data folder cannot be created or written, or the database URL is
        malformed or names an unsupported backend.
    """
    env = os.environ if environ is None else environ
    data_dir = _check_data_dir(env.get(DATA_DIR_VAR, "").strip() or DEFAULT_DATA_DIR)
    raw_url = env.get(DB_URL_VAR, "").strip()
    db_url = _check_db_url(raw_url) if raw_url else _default_sqlite_url(data_dir)
    return Settings(
        data_dir=data_dir,
        db_url=db_url,
        auth=_auth_mode(env),
        login=_policy(env),
        cluster=cluster_setting(env),
    )


_SCHEDULER = re.compile(r"^(tcp|tls)://(\[[0-9A-Fa-f:]+\]|[A-Za-z0-9._-]+):(\d{1,5})$")


def cluster_setting(environ: Mapping[str, str] | None = None) -> ClusterSetting:
    """Read and check ``GISTCAD_CLUSTER`` alone (no data folder needed).

    Raises
    ------
    ConfigError
        When the value is neither a mode (``auto``, ``local``, ``off``) nor a scheduler
        address ``tcp://host:port``.
    """
    env = os.environ if environ is None else environ
    raw = env.get(CLUSTER_VAR, "").strip()
    if raw.lower() in ("", ClusterMode.AUTO, ClusterMode.LOCAL, ClusterMode.OFF):
        return ClusterSetting(ClusterMode(raw.lower() or ClusterMode.AUTO))
    if _SCHEDULER.match(raw) and 0 < int(raw.rsplit(":", 1)[1]) < 65536:
        return ClusterSetting(ClusterMode.REMOTE, raw)
    raise ConfigError(
        f"{CLUSTER_VAR}={raw!r} is neither auto, local, off nor a scheduler address; "
        "use e.g. tcp://scheduler-host:8786 (the address 'dask scheduler' prints)"
    )


def _auth_mode(env: Mapping[str, str]) -> AuthMode:
    raw = env.get(AUTH_VAR, "").strip().lower() or AuthMode.NONE.value
    try:
        return AuthMode(raw)
    except ValueError:
        choices = ", ".join(m.value for m in AuthMode)
        raise ConfigError(
            f"{AUTH_VAR}={raw!r} is not a login mode; use one of: {choices}"
        ) from None


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name}={raw!r} must be a whole number of at least 1")
    return value


def _policy(env: Mapping[str, str]) -> LoginPolicy:
    return LoginPolicy(
        idle_timeout=dt.timedelta(minutes=_positive_int(env, IDLE_VAR, 15)),
        max_failures=_positive_int(env, LOCKOUT_ATTEMPTS_VAR, 5),
        lockout=dt.timedelta(minutes=_positive_int(env, LOCKOUT_MINUTES_VAR, 15)),
    )


def _check_data_dir(raw: str) -> Path:
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{DATA_DIR_VAR}={raw!r} is a file, not a folder; point it at a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"{DATA_DIR_VAR}={raw!r} is not a writable folder ({exc.strerror}); "
            "choose a folder you can write to"
        ) from None
    return path


def _check_db_url(raw: str) -> URL:
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ConfigError(
            f"{DB_URL_VAR} is not a database URL; expected e.g. "
            "'postgresql+psycopg://user@host:5432/dbname' or 'sqlite:///path/gistcad.sqlite'"
        ) from None
    backend = url.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"{DB_URL_VAR} names the unsupported database {backend!r}; "
            f"use one of: {', '.join(SUPPORTED_BACKENDS)}"
        )
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        raise ConfigError(
            f"{DB_URL_VAR} must name a SQLite file (an in-memory database loses everything); "
            "e.g. 'sqlite:////abs/path/gistcad.sqlite'"
        )
    return url


def _default_sqlite_url(data_dir: Path) -> URL:
    return URL.create("sqlite", database=str(data_dir / SQLITE_FILENAME))
