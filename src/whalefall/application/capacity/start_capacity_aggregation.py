"""Queue a `capacity_aggregation` session: one record per requested period type (api.md §3.11)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.capacity.aggregate_capacity import resolve_window
from whalefall.application.capacity.config import AGGREGATION_TABLES, CapacityConfig
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import PeriodType
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCapacityAggregationInput:
    actor: Actor
    period_types: tuple[PeriodType, ...] = tuple(PeriodType)
    window: object = "last_complete"
    trigger: SessionTrigger = SessionTrigger.MANUAL


@dataclass(frozen=True, slots=True)
class StartCapacityAggregation:
    """Validate the window (`"last_complete"`, `"current"` or `{"start": date}`; out of the aggregation tables'
    writable range → 422 PARTITION_KEY_OUT_OF_RANGE) and open a fleet session with one record per period type.
    A running fleet aggregation → 409 JOB_RUNNING; broker down → 503. Requires `sync:run`."""

    open_session: OpenSession
    clock: Clock
    config: CapacityConfig

    async def execute(self, data: StartCapacityAggregationInput) -> SessionView:
        data.actor.require(Permission.SYNC_RUN)
        periods = tuple(dict.fromkeys(data.period_types)) or tuple(PeriodType)
        today = self.config.today(self.clock)
        windows = [resolve_window(p, data.window, today) for p in periods]
        self.config.check_keys((w.start for w in windows), AGGREGATION_TABLES, today=today, field_path="body.window")
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.CAPACITY_AGGREGATION, scope=SessionScope.FLEET, trigger=data.trigger,
            records=[NewRecord(item_type="period", item_key=p.value) for p in periods],
            created_by=data.actor.user_id, origin_request_id=data.actor.request_id,
            params={"period_types": [p.value for p in periods], "window": data.window}))
