"""Password hashing (Argon2id) and the password rules.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106's second
recommended profile) and are never stored, printed or logged in clear: a temporary password
made by :func:`temporary_password` is shown once to the administrator who asked for it.
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gistcad.errors import ValidationError

MIN_LENGTH = 10

_HASHER = PasswordHasher()
#: Verified against when the account does not exist, so that a wrong user name takes as long
#: as a wrong password (no way to probe which names exist by timing).
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def check_rules(password: str, name: str) -> None:
    """Raise :class:`ValidationError` unless ``password`` is acceptable for account ``name``."""
    if len(password) < MIN_LENGTH:
        raise ValidationError(f"the password must have at least {MIN_LENGTH} characters")
    if name.lower() in password.lower():
        raise ValidationError("the password must not contain the user name")
    if len(set(password)) < 4:
        raise ValidationError("the password must not repeat the same few characters")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (``None``: no account, always False)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on login)."""
    return _HASHER.check_needs_rehash(stored_hash)


def temporary_password() -> str:
    """A random one-time password (about 96 bits), to be replaced at the first login."""
    return secrets.token_urlsafe(12)
