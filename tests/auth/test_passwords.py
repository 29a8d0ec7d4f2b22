"""Password hashing and rules."""

from __future__ import annotations

import pytest

from gistcad.auth import passwords
from gistcad.errors import ValidationError


def test_hash_is_argon2id_salted_and_verifies() -> None:
    first = passwords.hash_password("correct horse battery")
    second = passwords.hash_password("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert "correct horse" not in first
    assert passwords.verify(first, "correct horse battery")
    assert not passwords.verify(first, "correct horse batterY")
    assert not passwords.needs_rehash(first)


def test_no_account_and_garbage_hashes_never_verify() -> None:
    assert not passwords.verify(None, "anything at all")
    assert not passwords.verify("not-a-hash", "anything at all")


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("xx-alice-2026", "must not contain the user name"),
        ("aaaaaaaaaaaaab", "same few characters"),
    ],
)
def test_rules(password: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        passwords.check_rules(password, "alice")
    passwords.check_rules("tumour-board-42", "alice")


def test_temporary_passwords_are_random_and_acceptable() -> None:
    made = {passwords.temporary_password() for _ in range(50)}
    assert len(made) == 50
    for p in made:
        assert len(p) >= 16
