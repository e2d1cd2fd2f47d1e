"""Retry schedule and retryable error classes (O2, defect 18)."""

from __future__ import annotations

import pytest

from whalefall.domain.sessions.backoff import ErrorClass, RetryDecision, RetryPolicy, is_retryable, retry_delays


@pytest.mark.parametrize(("max_attempts", "expected"), [
    (3, (5, 10)), (5, (5, 10, 20, 40)), (7, (5, 10, 20, 40, 60, 60)), (1, ()), (0, ()),
])
def test_o2_delays(max_attempts: int, expected: tuple[float, ...]) -> None:
    assert retry_delays(max_attempts, 5, 2, 60) == expected
    policy = RetryPolicy(max_attempts=max_attempts)
    assert tuple(policy.delay_before(k) for k in range(2, max_attempts + 1)) == expected


@pytest.mark.parametrize("error_class", ["UNREACHABLE", "TIMEOUT", "CONNECTION_LOST", "SERVER_BUSY"])
def test_transient_classes_are_retried(error_class: str) -> None:
    assert is_retryable(ErrorClass(error_class))
    assert is_retryable(error_class)


@pytest.mark.parametrize("error_class", ["AUTH_FAILED", "PERMISSION_DENIED", "CONFIG_ERROR", "UNSUPPORTED",
                                         "INTERNAL", "SOMETHING_NEW"])
def test_other_classes_fail_at_once(error_class: str) -> None:
    assert not is_retryable(error_class)


def test_o2_auth_failure_on_attempt_one_is_not_retried() -> None:
    assert RetryPolicy().after_failure(ErrorClass.AUTH_FAILED, attempt=1) == RetryDecision(retry=False)


def test_o2_unreachable_is_retried_with_the_listed_delays_then_given_up() -> None:
    policy = RetryPolicy(max_attempts=3)
    decisions = [policy.after_failure(ErrorClass.UNREACHABLE, attempt=k) for k in (1, 2, 3)]
    assert decisions == [RetryDecision(True, 5), RetryDecision(True, 10), RetryDecision(False)]


def test_first_attempt_has_no_wait() -> None:
    assert RetryPolicy().delay_before(1) == 0


@pytest.mark.parametrize(("draw", "attempt", "expected"), [
    (0.0, 2, 4.0), (0.5, 2, 5.0), (0.75, 3, 11.0), (0.0, 6, 48.0), (0.99, 6, 60.0),
])
def test_jitter_uses_the_supplied_random_and_never_exceeds_the_cap(draw: float, attempt: int,
                                                                   expected: float) -> None:
    policy = RetryPolicy(max_attempts=7)
    assert policy.delay_before(attempt, lambda: draw) == pytest.approx(expected)


def test_zero_jitter_ignores_the_random_function() -> None:
    assert RetryPolicy(jitter=0).delay_before(3, lambda: 0.0) == 10
