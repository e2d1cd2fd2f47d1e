"""LoginThrottle on the in-memory counters with a movable clock: lockout doubling, cap, reset, unlock (§4.8)."""

from __future__ import annotations

import pytest

from whalefall.adapters.inmemory.rate_limits import InMemoryRateLimiter
from whalefall.application.errors import RateLimitedError
from whalefall.application.identity.login_throttle import Lockout, LoginThrottle, ThrottlePolicy


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


@pytest.fixture
def throttle(clock: list[float]) -> LoginThrottle:
    return LoginThrottle(InMemoryRateLimiter(monotonic=lambda: clock[0]), ThrottlePolicy())


async def _fail(throttle: LoginThrottle, times: int, username: str = "Alice") -> Lockout | None:
    result = None
    for _ in range(times):
        result = await throttle.record_failure(username)
    return result


async def test_each_further_lockout_doubles_up_to_four_hours(throttle: LoginThrottle, clock: list[float]) -> None:
    seen = []
    for _ in range(6):
        assert await _fail(throttle, 4) is None
        lockout = await _fail(throttle, 1)
        assert lockout is not None
        seen.append(lockout.seconds)
        assert await throttle.locked_for("ALICE") == lockout.seconds  # normalised username
        clock[0] += lockout.seconds + 1
        assert await throttle.locked_for("alice") is None
    assert seen == [900, 1800, 3600, 7200, 14_400, 14_400]


async def test_success_resets_failures_and_doubling(throttle: LoginThrottle, clock: list[float]) -> None:
    first = await _fail(throttle, 5)
    assert first == Lockout(seconds=900, level=1)
    clock[0] += 901
    await throttle.record_success("alice")
    assert await _fail(throttle, 4) is None
    await throttle.record_success("alice")
    assert await _fail(throttle, 5) == Lockout(seconds=900, level=1)


async def test_unlock_clears_the_lock(throttle: LoginThrottle) -> None:
    await _fail(throttle, 5)
    assert await throttle.locked_for("alice") is not None
    await throttle.unlock("alice")
    assert await throttle.locked_for("alice") is None
    assert await _fail(throttle, 4) is None


async def test_usernames_are_independent(throttle: LoginThrottle) -> None:
    await _fail(throttle, 5, "alice")
    assert await throttle.locked_for("bob") is None


async def test_address_limit_counts_every_attempt(throttle: LoginThrottle, clock: list[float]) -> None:
    for _ in range(20):
        await throttle.check_login_address("10.0.0.1")
    with pytest.raises(RateLimitedError) as raised:
        await throttle.check_login_address("10.0.0.1")
    assert raised.value.retry_after_s == 300
    await throttle.check_login_address("10.0.0.2")
    clock[0] += 300
    await throttle.check_login_address("10.0.0.1")
