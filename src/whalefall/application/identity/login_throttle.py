"""Login throttling and lockout (api.md §4.8): per-address attempt limits, per-username lockout with doubling."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from whalefall.application.errors import RateLimitedError
from whalefall.application.ports.rate_limits import RateLimiter
from whalefall.domain.identity.users import normalize_username


@dataclass(frozen=True, slots=True, kw_only=True)
class ThrottlePolicy:
    """The defaults of api.md §4.8. Failures count until a success (they are forgotten after `failure_memory_s`
    without a new one); lockouts double while they keep coming within `lockout_memory_s`."""

    login_limit: int = 20
    login_window_s: int = 300
    refresh_limit: int = 60
    refresh_window_s: int = 60
    failure_threshold: int = 5
    failure_memory_s: int = 86_400
    lockout_base_s: int = 900
    lockout_max_s: int = 14_400
    lockout_memory_s: int = 86_400

    def lockout_seconds(self, level: int) -> int:
        """15 minutes for the first lockout, doubling for each further one, capped (4 hours)."""
        doublings: int = max(0, min(level - 1, 30))
        return min(self.lockout_base_s * (1 << doublings), self.lockout_max_s)


@dataclass(frozen=True, slots=True)
class Lockout:
    seconds: int
    level: int


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    """Counters live in the RateLimiter (Redis shared by every process, or process memory in embedded mode).
    Username keys are digests of the normalised username, existing or not, so a lockout reveals nothing."""

    limiter: RateLimiter
    policy: ThrottlePolicy = field(default_factory=ThrottlePolicy)

    @staticmethod
    def _user(username: str, kind: str) -> str:
        digest = hashlib.sha256(normalize_username(username).encode("utf-8")).hexdigest()[:32]
        return f"login:{kind}:{digest}"

    async def check_login_address(self, address: str | None) -> None:
        """Counts one login attempt (`/auth/login` and `/auth/session` share it); over the limit → 429."""
        hits = await self.limiter.hit(f"login:addr:{address or 'unknown'}", window_s=self.policy.login_window_s)
        if hits.count > self.policy.login_limit:
            raise RateLimitedError(hits.expires_in_s)

    async def check_refresh_address(self, address: str | None) -> None:
        hits = await self.limiter.hit(f"refresh:addr:{address or 'unknown'}", window_s=self.policy.refresh_window_s)
        if hits.count > self.policy.refresh_limit:
            raise RateLimitedError(hits.expires_in_s)

    async def locked_for(self, username: str) -> int | None:
        """Seconds until the username's lockout ends, or None when it is not locked."""
        hits = await self.limiter.peek(self._user(username, "lock"))
        return hits.expires_in_s if hits is not None else None

    async def record_failure(self, username: str) -> Lockout | None:
        """One more consecutive failure; the threshold-th starts a lockout (and the count starts again)."""
        failures = await self.limiter.hit(self._user(username, "fail"), window_s=self.policy.failure_memory_s)
        if failures.count < self.policy.failure_threshold:
            return None
        level = (await self.limiter.hit(self._user(username, "level"), window_s=self.policy.lockout_memory_s)).count
        seconds = self.policy.lockout_seconds(level)
        await self.limiter.hold(self._user(username, "lock"), value=level, ttl_s=seconds)
        await self.limiter.clear(self._user(username, "fail"))
        return Lockout(seconds=seconds, level=level)

    async def record_success(self, username: str) -> None:
        await self.limiter.clear(self._user(username, "fail"), self._user(username, "level"))

    async def unlock(self, username: str) -> None:
        """Clear every counter of the username (`POST /users/{id}/actions/unlock`)."""
        await self.limiter.clear(*(self._user(username, kind) for kind in ("fail", "lock", "level")))
