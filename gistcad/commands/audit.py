"""``gistcad audit``: read the audit trail (administrators), as a table or CSV."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from gistcad.commands.access import caller_scope
from gistcad.commands.arguments import count
from gistcad.config import load_settings
from gistcad.errors import ValidationError
from gistcad.store import migrations, session_scope
from gistcad.store.audit import AuditFilter, audit_events
from gistcad.store.exports import csv_text


def register(sub: Any) -> None:
    parser = sub.add_parser("audit", help="the audit trail: who did what, when (admins)")
    parser.add_argument("--actor", help="only this user")
    parser.add_argument("--action", help="only this action, e.g. login, case.view, export")
    parser.add_argument("--target", help="only this patient pseudonym, model id or account")
    parser.add_argument("--since", help="from this date (YYYY-MM-DD, UTC)")
    parser.add_argument("--until", help="before this date (YYYY-MM-DD, UTC)")
    parser.add_argument(
        "--limit",
        type=count(1, 1_000_000, "rows"),
        default=1000,
        help="at most this many rows, newest first (default 1000)",
    )
    parser.add_argument("--csv", action="store_true", help="write CSV to standard output")
    parser.set_defaults(handler=_audit)


def parse_day(text: str | None, option: str) -> dt.datetime | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"{option} must be a date like 2026-11-29; got {text!r}") from None
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _audit(args: argparse.Namespace) -> int:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    scope = caller_scope(args, engine, settings)
    flt = AuditFilter(
        actor=args.actor,
        action=args.action,
        target=args.target,
        since=parse_day(args.since, "--since"),
        until=parse_day(args.until, "--until"),
        limit=args.limit,
    )
    with session_scope(engine) as session:
        table = audit_events(session, scope, flt)
    if args.csv:
        sys.stdout.write(csv_text(table))
    elif table.empty:
        print("no audit events match")
    else:
        print(table.to_string(index=False))
    return 0
