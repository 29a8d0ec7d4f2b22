"""``gistcad db``: create, upgrade and inspect the database schema."""

from __future__ import annotations

import argparse
from typing import Any

from gistcad.config import load_settings
from gistcad.store import make_engine, migrations, session_scope


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

    st = actions.add_parser(
        "status",
        help="schema revision, database, data folder; exit 1 if outdated or they disagree",
    )
    st.set_defaults(handler=_status)

    repair = actions.add_parser(
        "repair",
        help="remove files and folders that stopped imports left (never a referenced file)",
    )
    repair.set_defaults(handler=_repair)


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
    if not state.is_current:
        print("run 'gistcad db upgrade' to create or upgrade the schema")
        return 1
    from gistcad.ingest.repair import check_data_folder  # reads the imaging stack: only here

    with session_scope(engine) as session:
        check = check_data_folder(session, settings.data_dir)
    print("\n".join(check.describe(settings.data_dir)))
    return 0 if check.ok else 1


def _repair(_args: argparse.Namespace) -> int:
    from gistcad.ingest.repair import repair_data_folder

    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    found = repair_data_folder(engine, settings.data_dir)
    print(
        f"removed {len(found.orphans)} unreferenced file(s) and {len(found.stale.all)} "
        "folder(s) left by stopped imports"
    )
    if found.missing:
        print("\n".join(line for line in found.describe(settings.data_dir) if "missing" in line))
        return 1
    return 0
