"""What to type next: a command adds its own hint to an error the domain raised.

The domain says what is wrong ("no job 42"); only the command knows its flags and sibling
commands ("'gistcad jobs list' shows the jobs"). :func:`hint` re-raises the same kind of
error with the hint appended.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gistcad.errors import GistcadError


@contextmanager
def hint(error: type[GistcadError], text: str) -> Iterator[None]:
    """Re-raise ``error`` (and its subclasses) raised inside with "; ``text``" appended."""
    try:
        yield
    except error as exc:
        raise type(exc)(f"{exc}; {text}") from exc
