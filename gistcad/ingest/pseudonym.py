"""Pseudonyms: the only patient identity the store and the pages ever show.

A pseudonym is a keyed hash (HMAC-SHA256) of the center and the center's patient id, with a
secret key kept in the data folder. The same patient therefore gets the same pseudonym at every
import (so re-imports update instead of duplicating, and a DICOM series finds its clinical
row) without the store keeping the original id. Whoever holds the data folder's key and the
original id can recompute the pseudonym; nobody can invert it. The pseudonym-to-original map is
written to its own table only when the user asks for it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from gistcad.errors import ConfigError
from gistcad.layout import DataLayout

KEY_BYTES = 32
PREFIX = "GIST-"


@dataclass(frozen=True)
class Pseudonymizer:
    """Maps (center, original patient id) to a stable pseudonym, e.g. ``GIST-7KQ3M2AB9X``."""

    key: bytes

    def pseudonym(self, center: str, original_id: str) -> str:
        message = f"{center.strip()}\x1f{original_id.strip()}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return PREFIX + base64.b32encode(digest[:6]).decode().rstrip("=")

    def fingerprint(self, text: str) -> str:
        """A keyed hash of ``text`` (16 hex digits) that names it without revealing it: without
        the key, guessing a name and hashing it does not confirm it."""
        message = b"fingerprint\x1f" + text.encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()[:16]


def load_or_create_key(data_dir: Path) -> Pseudonymizer:
    """The data folder's pseudonym key, created (mode 0600) on first use.

    Safe when several imports start at once on a new data folder: the key is written whole
    to a file of its own and then linked to its name, which succeeds for exactly one of them;
    the others read the key that won, never a half-written one.
    """
    path = DataLayout(data_dir).pseudonym_key
    if not path.exists():
        _create_key(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ConfigError(
            f"the pseudonym key {path} is damaged ({len(key)} bytes, expected {KEY_BYTES}); "
            "restore it from a backup: without it, re-imported patients get new pseudonyms"
        )
    return Pseudonymizer(key)


def _create_key(path: Path) -> None:
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(KEY_BYTES))
            handle.flush()
            os.fsync(handle.fileno())
        # atomic, and never replaces a key: if another process linked first, theirs is the key
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
