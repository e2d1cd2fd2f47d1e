"""The bounded delete loop every retention purge shares (operations.md §1.9): ≤ 5000 rows a batch."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

MAX_BATCH: Final = 5000


@dataclass(frozen=True, slots=True, kw_only=True)
class RowsPurged:
    """Rows deleted, batches committed, and False when the runtime budget cut the purge short."""

    deleted: int
    batches: int
    complete: bool


NOTHING_PURGED: Final = RowsPurged(deleted=0, batches=0, complete=True)


async def purge_in_batches(delete_batch: Callable[[int], Awaitable[int]], batch_size: int,
                           out_of_time: Callable[[], bool]) -> RowsPurged:
    """Call `delete_batch(limit)` (which deletes and commits at most `limit` rows) until a short batch says
    nothing is left, or `out_of_time()` after a full one; `limit` is `batch_size` clamped to 1…5000."""
    limit = max(1, min(batch_size, MAX_BATCH))
    deleted = batches = 0
    while True:
        count = await delete_batch(limit)
        deleted += count
        batches += 1 if count else 0
        if count < limit:
            return RowsPurged(deleted=deleted, batches=batches, complete=True)
        if out_of_time():
            return RowsPurged(deleted=deleted, batches=batches, complete=False)


def runtime_budget(now: Callable[[], datetime], started: datetime, max_runtime_s: float) -> Callable[[], bool]:
    """`out_of_time` for a purge that started at `started`, measured with `now` (a Clock's `now`)."""
    return lambda: (now() - started).total_seconds() >= max_runtime_s
