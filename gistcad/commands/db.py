"""``gistcad db``: create, upgrade and inspect the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from gistcad.config import load_settings
from gistcad.store import make_engine, migrations


def register(sub: Any) -> None:
    parser = sub.add_parser("db", help="database schema: upgrade, downgrade, status")
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    up = actions.add_parser("upgrade", help="create or upgrade the schema to the newest version")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(handler=_upgrade)

    down = actions.add_parser(
        "downgrade", help="downgrade the schema (drops the tables the later revisions made)"
    )
    down.add_argument("revision", help="target revision, e.g. 'base' for an empty database")
    down.set_defaults(handler=_downgrade)

    st = actions.add_parser("status", help="show the schema revision and the database URL")
    st.set_defaults(handler=_status)


def _upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.db_url)
    migrations.upgrade(engine, args.revision)
    print(
        f"database {settings.db_url.render_as_string(hide_password=True)}: "
        f"{migrations.status(engine).describe()}"
    )
    return 0


def _downgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.db_url)
    migrations.downgrade(engine, args.revision)
    print(f"database downgraded: {migrations.status(engine).describe()}")
    return 0


def _status(_args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = make_engine(settings.db_url)
    state = migrations.status(engine)
    print(f"database: {settings.db_url.render_as_string(hide_password=True)}")
    print(f"data folder: {settings.data_dir}")
    print(f"schema: {state.describe()}")
    return 0 if state.is_current else 1
