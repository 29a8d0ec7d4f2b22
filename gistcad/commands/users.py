"""``gistcad users``: dashboard accounts (add, list, disable, enable, reset-password).

Run by the operator or with ``--user`` by an administrator. A new account, and an account
whose password is reset, gets a random temporary password printed once; its owner must
choose their own at the first sign-in. ``--password-stdin`` sets a chosen password instead
(read from the first line of standard input, for scripts).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

from gistcad.commands.access import caller_scope
from gistcad.config import load_settings
from gistcad.domain import Role
from gistcad.errors import NotFoundError, ValidationError
from gistcad.store import AccessScope, migrations, session_scope
from gistcad.store.accounts import RoleCentersError, list_users


def register(sub: Any) -> None:
    parser = sub.add_parser("users", help="dashboard accounts: add, list, disable, reset")
    actions = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="create an account")
    add.add_argument("name", help="login name, e.g. j.smith")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument(
        "--centers", default="", help="comma-separated centers it sees (not for admin)"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password")
    add.set_defaults(handler=_add)

    ls = actions.add_parser("list", help="every account with role, centers and status")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    for verb, text in (("disable", "refuse sign-in"), ("enable", "allow sign-in again")):
        p = actions.add_parser(verb, help=f"{text} for an account")
        p.add_argument("name")
        p.set_defaults(handler=_toggle, disable=verb == "disable")

    reset = actions.add_parser(
        "reset-password", help="new temporary password; also lifts a lockout"
    )
    reset.add_argument("name")
    reset.add_argument("--password-stdin", action="store_true")
    reset.set_defaults(handler=_reset)


def _password(args: argparse.Namespace) -> str | None:
    """The password read from standard input, or None for a temporary one."""
    if not args.password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


@contextmanager
def _with_hints() -> Iterator[None]:
    """Add the option or command that fixes an account error to its message."""
    try:
        yield
    except RoleCentersError as exc:
        fix = "add --centers A,B" if exc.needs_centers else "leave out --centers"
        raise ValidationError(f"{exc}: {fix}") from exc
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}; 'gistcad users list' shows them") from exc


def _context(args: argparse.Namespace) -> tuple[Engine, AccessScope]:
    settings = load_settings()
    engine = migrations.ready_engine(settings.db_url)
    return engine, caller_scope(args, engine, settings)


def _add(args: argparse.Namespace) -> int:
    engine, scope = _context(args)
    centers = [c.strip() for c in args.centers.split(",") if c.strip()]
    with _with_hints(), session_scope(engine) as session:
        from gistcad.auth.manage import add_account  # Argon2: only here

        temporary = add_account(
            session, scope, args.name.strip().lower(), Role(args.role), centers, _password(args)
        )
    print(f"account {args.name} created: {args.role}, {', '.join(centers) or 'all centers'}")
    _announce(temporary)
    return 0


def _announce(temporary: str | None) -> None:
    if temporary is not None:
        print(f"temporary password (shown once; to be changed at first sign-in): {temporary}")


def _list(args: argparse.Namespace) -> int:
    engine, scope = _context(args)
    with session_scope(engine) as session:
        table = list_users(session, scope)
    if args.json:
        print(table.to_json(orient="records", date_format="iso", indent=2))
    elif table.empty:
        print("no accounts yet: create the first with 'gistcad users add NAME --role admin'")
    else:
        print(table.to_string(index=False))
    return 0


def _toggle(args: argparse.Namespace) -> int:
    engine, scope = _context(args)
    with _with_hints(), session_scope(engine) as session:
        from gistcad.auth.manage import set_disabled

        set_disabled(session, scope, args.name, bool(args.disable))
    print(f"account {args.name} {'disabled' if args.disable else 'enabled'}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    engine, scope = _context(args)
    with _with_hints(), session_scope(engine) as session:
        from gistcad.auth.manage import reset_password

        temporary = reset_password(session, scope, args.name, _password(args))
    print(f"password of {args.name} reset; the account is unlocked")
    _announce(temporary)
    return 0
