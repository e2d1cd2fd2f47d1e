"""argon2id password hashing with argon2-cffi (api.md §4.4)."""

from __future__ import annotations

import secrets

import argon2
from argon2.exceptions import HashingError, InvalidHashError, VerificationError

from whalefall.application.ports.security import PasswordCheck, PasswordHasher
from whalefall.domain.errors import WhalefallError


class Argon2PasswordHasher(PasswordHasher):
    """argon2id with RFC 9106's low-memory defaults (3 passes, 64 MiB, 4 lanes); lower costs are for tests only."""

    def __init__(self, *, time_cost: int = 3, memory_cost: int = 65536, parallelism: int = 4,
                 hash_len: int = 32, salt_len: int = 16) -> None:
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism,
                                             hash_len=hash_len, salt_len=salt_len, type=argon2.Type.ID)
        # Made with the configured parameters so an unknown username costs exactly what a real user costs.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        try:
            return self._hasher.hash(password)
        except HashingError as exc:
            raise WhalefallError("Password hashing failed") from exc

    def verify(self, stored: str | None, password: str) -> PasswordCheck:
        if stored is None:
            self._check(self._dummy, password)
            return PasswordCheck(ok=False, needs_rehash=False)
        try:
            ok = self._check(stored, password)
        except InvalidHashError:
            # A corrupt stored hash fails like a wrong password, after the same amount of work.
            self._check(self._dummy, password)
            return PasswordCheck(ok=False, needs_rehash=False)
        if not ok:
            return PasswordCheck(ok=False, needs_rehash=False)
        try:
            needs_rehash = self._hasher.check_needs_rehash(stored)
        except (InvalidHashError, ValueError):
            needs_rehash = True
        return PasswordCheck(ok=True, needs_rehash=needs_rehash)

    def _check(self, stored: str, password: str) -> bool:
        """True on a match; raises InvalidHashError for a hash argon2 cannot parse."""
        try:
            return self._hasher.verify(stored, password)
        except VerificationError:  # VerifyMismatchError included
            return False
