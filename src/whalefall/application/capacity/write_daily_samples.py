"""Store one instance's collected sizes for a business day (the storage step of capacity.md §3.1)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.capacity.config import SAMPLE_TABLES, CapacityConfig
from whalefall.application.ports.capacity import CapacityWriter, DailyCollection
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.domain.capacity import InstanceSample
from whalefall.domain.errors import UnprocessableError


@dataclass(frozen=True, slots=True)
class WriteDailySamples:
    """Replace the day's database samples as a set and upsert the instance sample derived from them, so the
    instance total always equals the sum of its databases (§1.5). A day outside the writable range of the sample
    tables (before the retention cutoff, at or after the write horizon) → 422 PARTITION_KEY_OUT_OF_RANGE; duplicate
    names or negative sizes → 422 UNPROCESSABLE. Commits once."""

    writer: CapacityWriter
    clock: Clock
    uow: UnitOfWork
    config: CapacityConfig

    async def execute(self, day: DailyCollection) -> InstanceSample:
        self.config.check_keys([day.collected_on], SAMPLE_TABLES, today=self.config.today(self.clock),
                               field_path="collected_on")
        try:
            sample = await self.writer.write_day(day)
        except ValueError as exc:
            raise UnprocessableError(str(exc)) from exc
        await self.uow.commit()
        return sample
