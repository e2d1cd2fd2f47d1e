"""PrincipalRateLimits (api.md §4.8): fixed windows per principal and subject, refused hits still count, the
system is never limited, 0 disables, a batch spends one hit per distinct subject."""

from __future__ import annotations

import pytest

from whalefall.adapters.inmemory.rate_limits import InMemoryRateLimiter
from whalefall.application.errors import RateLimitedError
from whalefall.application.identity.request_limits import (
    Limit,
    LimitedAction,
    PrincipalRateLimits,
    RequestLimitPolicy,
    principal_key,
)
from whalefall.application.shared.actor import Actor, ActorType, AuthMethod
from whalefall.domain.identity.roles import Role


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def user(user_id: int) -> Actor:
    return Actor.for_user(user_id=user_id, username=f"u{user_id}", role=Role.OPERATOR,
                         auth_method=AuthMethod.ACCESS_TOKEN)


def token(token_id: str, owner: int) -> Actor:
    return Actor(actor_type=ActorType.API_TOKEN, name="t", user_id=owner, token_id=token_id,
                 auth_method=AuthMethod.API_TOKEN)


def limits(clock: Clock, **by_action: Limit) -> PrincipalRateLimits:
    policy = RequestLimitPolicy({LimitedAction(name): limit for name, limit in by_action.items()})
    return PrincipalRateLimits(InMemoryRateLimiter(clock), policy)


async def test_the_limit_plus_one_is_refused_until_the_window_ends() -> None:
    clock = Clock()
    limiter = limits(clock, request=Limit(3, 60))
    for _ in range(3):
        await limiter.check(user(1), LimitedAction.REQUEST)
    clock.now += 20
    with pytest.raises(RateLimitedError) as caught:
        await limiter.check(user(1), LimitedAction.REQUEST)
    assert caught.value.retry_after_s == 40 and caught.value.code == "RATE_LIMIT_EXCEEDED"
    assert "at most 3 per 60 s" in caught.value.message
    clock.now += 40
    await limiter.check(user(1), LimitedAction.REQUEST)


async def test_principals_subjects_and_actions_have_separate_counters() -> None:
    limiter = limits(Clock(), connection_test=Limit(1, 60), export=Limit(1, 60))
    await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="7")
    await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="8")
    await limiter.check(user(2), LimitedAction.CONNECTION_TEST, subject="7")
    await limiter.check(token("tok-1", owner=1), LimitedAction.CONNECTION_TEST, subject="7")
    await limiter.check(user(1), LimitedAction.EXPORT)
    with pytest.raises(RateLimitedError):
        await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="7")


async def test_the_system_and_the_scheduler_are_never_limited_and_zero_disables() -> None:
    limiter = limits(Clock(), request=Limit(1, 60), export=Limit(0, 60))
    for _ in range(5):
        await limiter.check(Actor.system(), LimitedAction.REQUEST)
        await limiter.check(user(1), LimitedAction.EXPORT)
    assert principal_key(Actor.system()) is None
    assert (principal_key(user(3)), principal_key(token("abc", owner=3))) == ("user:3", "token:abc")


async def test_a_batch_spends_one_hit_per_distinct_subject_and_reports_the_longest_wait() -> None:
    clock = Clock()
    limiter = limits(clock, connection_test=Limit(2, 60))
    await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="1")
    clock.now += 30
    await limiter.check_each(user(1), LimitedAction.CONNECTION_TEST, ["1", "2", "2", "1"])
    await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="2")
    with pytest.raises(RateLimitedError) as caught:
        await limiter.check_each(user(1), LimitedAction.CONNECTION_TEST, ["1", "2", "3"])
    assert caught.value.retry_after_s == 60       # instance 2's window started 30 s after instance 1's
    await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="3")
    with pytest.raises(RateLimitedError):
        await limiter.check(user(1), LimitedAction.CONNECTION_TEST, subject="3")


def test_the_defaults_are_those_of_the_spec() -> None:
    policy = RequestLimitPolicy()
    assert {a.value: (policy.of(a).count, policy.of(a).window_s) for a in LimitedAction} == {
        "password_change": (5, 3600), "connection_test": (20, 60), "rule_evaluation": (30, 60),
        "export": (10, 60), "request": (600, 60)}
