"""Scheduler liveness: heartbeats of scheduler processes and `GET /scheduler/status` (operations.md §8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.scheduler import Heartbeat, HeartbeatStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission

LEADER_FRESH_S = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerStatus:
    timezone: str
    leader: Heartbeat | None
    standbys: int


@dataclass(frozen=True, slots=True)
class GetSchedulerStatus:
    """The leader (heartbeat newer than 30 s, `is_leader`) and the number of live standbys."""

    heartbeats: HeartbeatStore
    clock: Clock
    timezone: str

    async def execute(self, actor: Actor) -> SchedulerStatus:
        actor.require(Permission.JOBS_READ)
        live = await self.heartbeats.list_kind("scheduler",
                                               seen_since=self.clock.now() - timedelta(seconds=LEADER_FRESH_S))
        leader = next((h for h in live if h.is_leader), None)
        return SchedulerStatus(timezone=self.timezone, leader=leader,
                               standbys=sum(1 for h in live if h is not leader))


@dataclass(frozen=True, slots=True)
class RecordHeartbeat:
    """Upsert this process's heartbeat row and commit."""

    heartbeats: HeartbeatStore
    uow: UnitOfWork

    async def execute(self, heartbeat: Heartbeat) -> None:
        await self.heartbeats.beat(heartbeat)
        await self.uow.commit()


@dataclass(frozen=True, slots=True)
class CheckOwnHeartbeat:
    """`--healthcheck`: True when a process of the kind on this host beat within `max_age_s` (which also proves the
    metadata store answers); a container health check runs beside the process, so the host identifies it."""

    heartbeats: HeartbeatStore
    clock: Clock

    async def execute(self, kind: str, host: str, max_age_s: float) -> bool:
        live = await self.heartbeats.list_kind(kind, seen_since=self.clock.now() - timedelta(seconds=max_age_s))
        return any(h.host == host for h in live)
