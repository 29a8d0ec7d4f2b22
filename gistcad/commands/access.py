"""Who runs a command: the operator, or an account named with ``gistcad --user NAME``.

The operator (whoever can run ``gistcad`` on the machine that holds the data folder) has an
unrestricted scope, recorded in the audit trail as ``cli:<login name>``. With ``--user NAME``
(or ``GISTCAD_USER``) a command runs in that account's scope — its role and centers — after
the account's password is given (``GISTCAD_PASSWORD``, or asked for at the prompt); failed
attempts count towards the account's lockout just as on the login page.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from sqlalchemy import Engine

from gistcad.config import Settings
from gistcad.errors import AccessDenied, ConfigError
from gistcad.store import session_scope
from gistcad.store.scope import AccessScope

USER_VAR = "GISTCAD_USER"
PASSWORD_VAR = "GISTCAD_PASSWORD"


def add_user_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=os.environ.get(USER_VAR) or None,
        help="run as this account (its role and centers); password from GISTCAD_PASSWORD "
        "or the prompt. Default: the operator, who sees everything",
    )


def operator_name() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:operator"


def _ask_password(name: str) -> str:
    """The password from the terminal, or (with no terminal) one line of standard input."""
    try:
        with open("/dev/tty", "rb"):
            terminal = True
    except OSError:
        terminal = False
    try:
        if terminal:
            return getpass.getpass(f"password for {name}: ")
        line = sys.stdin.readline()
    except (EOFError, OSError):
        line = ""
    if not line:
        raise ConfigError(
            f"--user {name} needs a password and none could be read (no terminal); set "
            f"{PASSWORD_VAR}"
        )
    return line.rstrip("\r\n")


def caller_scope(args: argparse.Namespace, engine: Engine, settings: Settings) -> AccessScope:
    """The scope the command runs in (see the module docstring)."""
    name = getattr(args, "user", None)
    if not name:
        return AccessScope.everything(user=operator_name())
    from gistcad.auth.login import authenticate  # Argon2: only when a user signs in

    password = os.environ.get(PASSWORD_VAR)
    if password is None:
        password = _ask_password(name)
    with session_scope(engine) as session:
        outcome = authenticate(session, name, password, settings.login)
    if not outcome.ok or outcome.scope is None:
        raise AccessDenied(outcome.message)
    return outcome.scope
