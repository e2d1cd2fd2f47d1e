"""Per-principal request limits of api.md §4.8 (password change, connection tests per instance, rule dry-run and
explain, exports, everything else), counted in the RateLimiter port."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from whalefall.application.errors import RateLimitedError
from whalefall.application.ports.rate_limits import RateLimiter
from whalefall.application.shared.actor import Actor, ActorType


class LimitedAction(StrEnum):
    """What a request counts against; the value is the setting name (`ratelimit.<value>`)."""

    PASSWORD_CHANGE = "password_change"
    CONNECTION_TEST = "connection_test"
    RULE_EVALUATION = "rule_evaluation"
    EXPORT = "export"
    REQUEST = "request"


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` requests per fixed window of `window_s` seconds; `count = 0` disables the limit."""

    count: int
    window_s: int


#: The defaults of api.md §4.8.
DEFAULT_LIMITS: Final[Mapping[LimitedAction, Limit]] = MappingProxyType({
    LimitedAction.PASSWORD_CHANGE: Limit(5, 3600),
    LimitedAction.CONNECTION_TEST: Limit(20, 60),
    LimitedAction.RULE_EVALUATION: Limit(30, 60),
    LimitedAction.EXPORT: Limit(10, 60),
    LimitedAction.REQUEST: Limit(600, 60),
})
_WHAT: Final = MappingProxyType({
    LimitedAction.PASSWORD_CHANGE: "password changes",
    LimitedAction.CONNECTION_TEST: "connection tests of this instance",
    LimitedAction.RULE_EVALUATION: "rule dry-runs and explanations",
    LimitedAction.EXPORT: "exports",
    LimitedAction.REQUEST: "requests",
})


@dataclass(frozen=True, slots=True)
class RequestLimitPolicy:
    """The limit of each action (settings `ratelimit.<action>` and `ratelimit.<action>_window_s`)."""

    limits: Mapping[LimitedAction, Limit] = field(default_factory=lambda: DEFAULT_LIMITS)

    def of(self, action: LimitedAction) -> Limit:
        return self.limits.get(action, DEFAULT_LIMITS[action])


def principal_key(actor: Actor) -> str | None:
    """The counter owner: an API token is its own principal (api.md §4.1), a user is one principal whatever the
    login (access token or browser session); the scheduler and the system are never limited (None)."""
    if actor.actor_type is ActorType.API_TOKEN and actor.token_id is not None:
        return f"token:{actor.token_id}"
    if actor.actor_type is ActorType.USER and actor.user_id is not None:
        return f"user:{actor.user_id}"
    return None


@dataclass(frozen=True, slots=True)
class PrincipalRateLimits:
    """Counts requests per principal (and per subject, e.g. the instance of a connection test) in fixed windows.

    Every counted request is a hit, refused ones included, so hammering does not shorten the wait. Over the limit
    → RateLimitedError (429 RATE_LIMIT_EXCEEDED, `Retry-After` = seconds until the window ends). The counters are
    Redis's when configured (shared by every process) and process memory in embedded mode; an unreachable Redis
    is RateLimitBackendUnavailableError (503), never an unlimited pass."""

    limiter: RateLimiter
    policy: RequestLimitPolicy = field(default_factory=RequestLimitPolicy)

    async def check(self, actor: Actor, action: LimitedAction, *, subject: str | None = None) -> None:
        await self.check_each(actor, action, (subject,) if subject is not None else (None,))

    async def check_each(self, actor: Actor, action: LimitedAction, subjects: Iterable[str | None]) -> None:
        """One hit per distinct subject (a batch of connection tests counts one test per instance); refused when
        any of them is over its limit, with the longest remaining wait."""
        limit = self.policy.of(action)
        principal = principal_key(actor)
        if limit.count <= 0 or principal is None:
            return
        waits: list[int] = []
        for subject in dict.fromkeys(subjects):
            key = f"req:{action.value}:{principal}" + (f":{subject}" if subject is not None else "")
            hits = await self.limiter.hit(key, window_s=limit.window_s)
            if hits.count > limit.count:
                waits.append(hits.expires_in_s)
        if waits:
            retry_after = max(waits)
            raise RateLimitedError(retry_after, f"Too many {_WHAT[action]} (at most {limit.count} per "
                                                f"{limit.window_s} s); retry in {retry_after} s")
