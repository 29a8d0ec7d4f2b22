"""The ``gistcad`` command line.

Each capability of the dashboard is also a command, so that it can be scripted, tested and
benchmarked without a browser. Subcommands live in :mod:`gistcad.commands`, one module each;
this module only builds the parser and turns :class:`~gistcad.errors.GistcadError` into a
one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from gistcad import __version__
from gistcad.commands import (
    audit,
    biomarkers,
    cohort,
    db,
    demo,
    imports,
    jobs,
    models,
    pacs,
    report,
    response,
    risk,
    segment,
    serve,
    survival,
    therapy,
    users,
)
from gistcad.commands.access import add_user_option
from gistcad.errors import GistcadError
from gistcad.store.migrations import SchemaNotReady

log = logging.getLogger(__name__)

EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: what was wrong and where to read more (exit 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gistcad",
        description="GIST computer-aided diagnosis: cohort database, statistics and dashboard.",
        epilog="Settings come from GISTCAD_* environment variables (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"gistcad {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    add_user_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (
        db,
        serve,
        users,
        audit,
        demo,
        imports,
        models,
        jobs,
        risk,
        therapy,
        cohort,
        survival,
        biomarkers,
        report,
        response,
        pacs,
        segment,
    ):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except GistcadError as exc:
        print(f"gistcad: error: {error_line(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR


def error_line(exc: GistcadError) -> str:
    """The error's message, and the command that fixes it where the store cannot name one."""
    if isinstance(exc, SchemaNotReady):
        return f"{exc}; run 'gistcad db upgrade'"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
