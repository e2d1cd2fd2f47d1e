"""Connector error classes, which of them are retried, and the retry delay schedule (operations §1.8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class ErrorClass(StrEnum):
    """Connector error classes of capacity §2.2 (wire values of `Record.error_class`)."""

    UNREACHABLE = "UNREACHABLE"
    TIMEOUT = "TIMEOUT"
    CONNECTION_LOST = "CONNECTION_LOST"
    SERVER_BUSY = "SERVER_BUSY"
    AUTH_FAILED = "AUTH_FAILED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    CONFIG_ERROR = "CONFIG_ERROR"
    UNSUPPORTED = "UNSUPPORTED"
    INTERNAL = "INTERNAL"


RETRYABLE_ERROR_CLASSES: Final = frozenset(
    {ErrorClass.UNREACHABLE, ErrorClass.TIMEOUT, ErrorClass.CONNECTION_LOST, ErrorClass.SERVER_BUSY}
)


def is_retryable(error_class: ErrorClass | str) -> bool:
    """Transient classes are retried; the rest (and any unknown class string) fail at once."""
    return error_class in RETRYABLE_ERROR_CLASSES


def retry_delays(max_attempts: int, base: float, factor: float, max_delay: float) -> tuple[float, ...]:
    """Waits before attempts 2 … max_attempts: `min(max_delay, base · factor^(k−1))` before attempt k+1.

    O2: (3, 5, 2, 60) → (5, 10); (7, 5, 2, 60) → (5, 10, 20, 40, 60, 60). One attempt (or fewer) → ().
    """
    return tuple(min(max_delay, base * factor ** (k - 1)) for k in range(1, max_attempts))


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """`retry` with the wait before the next attempt, or give up (`delay_s` None)."""

    retry: bool
    delay_s: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """The `retry.*` settings. Jitter is ±`jitter` of the delay, drawn from a caller-supplied `random()` in
    [0, 1); without one (tests) there is no jitter. A jittered delay never exceeds `max_delay_s`: the cap is
    the operator's promise, so capped delays only jitter downwards."""

    max_attempts: int = 3
    base_delay_s: float = 5
    factor: float = 2
    max_delay_s: float = 60
    jitter: float = 0.2

    def delay_before(self, attempt: int, random: Callable[[], float] | None = None) -> float:
        """Wait before `attempt` (2 … max_attempts); `attempt` ≤ 1 waits 0."""
        if attempt <= 1:
            return 0.0
        delay = min(self.max_delay_s, self.base_delay_s * self.factor ** (attempt - 2))
        if random is not None and self.jitter:
            delay *= 1 + self.jitter * (2 * random() - 1)
        return max(0.0, min(self.max_delay_s, delay))

    def after_failure(self, error_class: ErrorClass | str, attempt: int,
                      random: Callable[[], float] | None = None) -> RetryDecision:
        """What to do after `attempt` (1-based) failed with `error_class`: retry only transient classes while
        attempts remain (O2: AUTH_FAILED on attempt 1 → give up with attempt = 1)."""
        if not is_retryable(error_class) or attempt >= self.max_attempts:
            return RetryDecision(retry=False)
        return RetryDecision(retry=True, delay_s=self.delay_before(attempt + 1, random))
