"""Argument types shared by the commands: each refuses an implausible value with one line.

argparse calls these with the text the user typed; a ``ValueError`` subclass becomes the
familiar ``argument --x: invalid ... value`` message, an ``ArgumentTypeError`` carries ours.
The limits are those of the store, so that no value reaches the database only to be refused
there, differently on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from gistcad.store.models import MAX_RECORD_ID


def _whole(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ({what})") from None


def record_id(text: str) -> int:
    """A database id: a whole number from 1 to 2,147,483,647."""
    value = _whole(text, "an id")
    if not 1 <= value <= MAX_RECORD_ID:
        raise argparse.ArgumentTypeError(
            f"{text.strip()} is not an id: ids are whole numbers from 1 to {MAX_RECORD_ID:,}"
        )
    return value


def count(low: int, high: int, what: str) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` inclusive (``what`` names it in the message)."""

    def parse(text: str) -> int:
        value = _whole(text, what)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{value} is outside the allowed range of {what}: {low:,} to {high:,}"
            )
        return value

    parse.__name__ = what
    return parse


def probability_threshold(text: str) -> float:
    """A classification threshold: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise argparse.ArgumentTypeError(
            f"{text} is not a probability threshold: give a number between 0 and 1, e.g. 0.5"
        )
    return value
