"""Argon2PasswordHasher with small costs: verify, dummy verification and rehash on parameter change."""

from __future__ import annotations

import pytest

from whalefall.adapters.security.argon2_hasher import Argon2PasswordHasher
from whalefall.application.ports.security import PasswordCheck


@pytest.fixture
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_hash_is_self_describing_argon2id(hasher: Argon2PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert "correct horse" not in stored
    assert hasher.hash("correct horse battery") != stored


def test_verify(hasher: Argon2PasswordHasher) -> None:
    stored = hasher.hash("correct horse battery")
    assert hasher.verify(stored, "correct horse battery") == PasswordCheck(ok=True, needs_rehash=False)
    assert hasher.verify(stored, "wrong horse battery") == PasswordCheck(ok=False, needs_rehash=False)


def test_unknown_user_checks_the_dummy_hash_and_fails(hasher: Argon2PasswordHasher) -> None:
    assert hasher.verify(None, "") == PasswordCheck(ok=False, needs_rehash=False)
    assert hasher.verify(None, "correct horse battery") == PasswordCheck(ok=False, needs_rehash=False)


@pytest.mark.parametrize("stored", ["", "plain$pw", "$argon2id$v=19$garbage"])
def test_a_corrupt_stored_hash_fails_like_a_wrong_password(hasher: Argon2PasswordHasher, stored: str) -> None:
    assert hasher.verify(stored, "pw") == PasswordCheck(ok=False, needs_rehash=False)


def test_needs_rehash_when_parameters_change(hasher: Argon2PasswordHasher) -> None:
    old = hasher.hash("correct horse battery")
    stronger = Argon2PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    assert stronger.verify(old, "correct horse battery") == PasswordCheck(ok=True, needs_rehash=True)
    assert stronger.verify(old, "wrong") == PasswordCheck(ok=False, needs_rehash=False)
    assert stronger.verify(stronger.hash("x"), "x") == PasswordCheck(ok=True, needs_rehash=False)
