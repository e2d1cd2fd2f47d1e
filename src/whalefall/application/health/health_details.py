"""`GET /health/details` (operations.md §8, api.md §3.1): every component with status, latency and detail."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from whalefall import __version__
from whalefall.application.ports.cache import Cache
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.health import ProcessStats, StoreProbe
from whalefall.application.ports.instances import CredentialRepository
from whalefall.application.ports.partitions import PartitionManager
from whalefall.application.ports.scheduler import Heartbeat, HeartbeatStore
from whalefall.application.ports.security import AccessTokenCodec, SecretCipher
from whalefall.application.ports.sessions import SessionQuery, SessionStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.sessions import SessionStatus

ComponentState = Literal["ok", "degraded", "down"]
LEADER_FRESH_S: Final = 30
WORKER_FRESH_S: Final = 45
CHECK_TIMEOUT_S: Final = 2.0
REDIS_TIMEOUT_S: Final = 1.0
CACHE_PROBE_KEY: Final = "health:probe"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentDetail:
    name: str
    status: ComponentState
    required: bool
    latency_ms: float
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthDetails:
    status: ComponentState
    version: str
    components: tuple[ComponentDetail, ...]


Check = Callable[[], Awaitable[tuple[ComponentState, Mapping[str, object]]]]


def _beat(heartbeat: Heartbeat) -> dict[str, object]:
    return {"process_id": heartbeat.process_id, "host": heartbeat.host, "pid": heartbeat.pid,
            "version": heartbeat.version, "started_at": heartbeat.started_at.isoformat(),
            "last_seen_at": heartbeat.last_seen_at.isoformat(), "running_tasks": heartbeat.running_tasks}


@dataclass(frozen=True, slots=True)
class GetHealthDetails:
    """Requires `system:read` (admin, auditor). Components and their failing state, as in operations.md §8:
    `metadata_store`, `migrations`, `credential_keys`, `signing_keys` and `process` are required (`down`);
    `cache`, `broker`, `scheduler`, `workers` degrade. `credential_keys` is `degraded` when a credential uses a
    key id the keyring lacks; `partitions` (informational) degrades when a DEFAULT partition holds rows;
    `sessions` (informational) reports the age of the oldest running session. In embedded mode the broker, cache
    and workers are in-process and always ok. Each check runs under a 2 s timeout (Redis checks, cache and broker,
    1 s); a failing check reports only its exception type, never the error text (it may name hosts or users).
    Overall status: `down` if a required component is down, else `degraded` if any component is, else `ok`."""

    store: StoreProbe
    cipher: SecretCipher
    codec: AccessTokenCodec
    cache: Cache
    heartbeats: HeartbeatStore
    sessions: SessionStore
    credentials: CredentialRepository
    partitions: PartitionManager
    stats: ProcessStats
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, *, draining: bool) -> HealthDetails:
        actor.require(Permission.SYSTEM_READ)
        return await self.report(draining=draining)

    async def report(self, *, draining: bool, readiness: bool = False) -> HealthDetails:
        """No permission check: the public readiness probe (`readiness=True`: the components of api.md §3.1
        only, whose answer carries names and statuses only) and `execute` share it."""
        # End the request's transaction (authentication read through it) before the probe opens its own
        # connection: on SQLite every transaction holds the store's write lock and the probe would wait for it.
        await self.uow.commit()
        reachable: list[bool] = []

        async def metadata_store() -> tuple[ComponentState, Mapping[str, object]]:
            ok = await self.store.reachable(CHECK_TIMEOUT_S)
            reachable.append(ok)
            return ("ok" if ok else "down"), {}

        components = [await self._timed("metadata_store", True, metadata_store)]
        store_up = reachable == [True]
        components.append(await self._timed("migrations", True, self._migrations, skip=not store_up))
        components.append(await self._timed("credential_keys", True, lambda: self._credential_keys(store_up)))
        components.append(await self._timed("signing_keys", True, self._signing_keys))
        components.append(await self._timed("process", True, lambda: self._process(draining)))
        components.append(await self._timed("cache", False, self._cache, timeout_s=REDIS_TIMEOUT_S))
        components.append(await self._timed("broker", False, self._broker, timeout_s=REDIS_TIMEOUT_S))
        components.append(await self._timed("scheduler", False, self._scheduler, skip=not store_up))
        components.append(await self._timed("workers", False, self._workers, skip=not store_up))
        if not readiness:
            components.append(await self._timed("partitions", False, self._partitions, skip=not store_up))
            components.append(await self._timed("sessions", False, self._running_sessions, skip=not store_up))
            components.append(await self._timed("logs", False, self._logs))
        if any(c.required and c.status == "down" for c in components):
            overall: ComponentState = "down"
        elif any(c.status != "ok" for c in components):
            overall = "degraded"
        else:
            overall = "ok"
        return HealthDetails(status=overall, version=__version__, components=tuple(components))

    async def _timed(self, name: str, required: bool, check: Check, *, skip: bool = False,
                     timeout_s: float = CHECK_TIMEOUT_S) -> ComponentDetail:
        """Run one check under the timeout; a check that needs the store is not attempted while it is down."""
        fail: ComponentState = "down" if required else "degraded"
        if skip:
            return ComponentDetail(name=name, status=fail, required=required, latency_ms=0.0,
                                   detail={"error": "metadata store unreachable"})
        started = self.clock.now()
        try:
            async with asyncio.timeout(timeout_s):
                status, detail = await check()
        except TimeoutError:
            status, detail = fail, {"error": f"no answer within {timeout_s:g} s"}
        except Exception as exc:  # a broken dependency is reported, never raised from a health route
            status, detail = fail, {"error": type(exc).__name__}
        latency = (self.clock.now() - started).total_seconds() * 1000
        return ComponentDetail(name=name, status=status, required=required, latency_ms=round(latency, 3),
                               detail=detail)

    async def _migrations(self) -> tuple[ComponentState, Mapping[str, object]]:
        info = await self.store.describe()
        state: ComponentState = "ok" if info.current_revision == info.head_revision else "down"
        return state, {"dialect": info.dialect, "server_version": info.server_version,
                       "current_revision": info.current_revision, "head_revision": info.head_revision}

    async def _credential_keys(self, store_up: bool) -> tuple[ComponentState, Mapping[str, object]]:
        """Down only when no active key is loaded; the usage per key id needs the store (None while it is down)."""
        active = self.cipher.active_key_id
        usage: dict[str, int] | None = None
        if store_up:
            try:
                usage = await self.credentials.key_usage()
            except Exception:  # e.g. a store not migrated yet: `migrations` reports that, the keys are still fine
                await self.uow.rollback()
        unknown = sorted(k for k in usage or {} if k not in self.cipher.key_ids())
        state: ComponentState = "down" if not active else "degraded" if unknown else "ok"
        return state, {"active_key_id": active or None, "loaded_key_ids": sorted(self.cipher.key_ids()),
                       "usage": None if usage is None else dict(sorted(usage.items())), "unknown_key_ids": unknown}

    async def _signing_keys(self) -> tuple[ComponentState, Mapping[str, object]]:
        loaded = self.codec.has_active_key
        return ("ok" if loaded else "down"), {"active_key_loaded": loaded}

    async def _process(self, draining: bool) -> tuple[ComponentState, Mapping[str, object]]:
        return ("down" if draining else "ok"), {"draining": draining, "version": __version__}

    async def _cache(self) -> tuple[ComponentState, Mapping[str, object]]:
        if self.stats.embedded:
            return "ok", {"backend": "in-process"}
        await self.cache.get(CACHE_PROBE_KEY)
        return "ok", {"backend": "redis"}

    async def _broker(self) -> tuple[ComponentState, Mapping[str, object]]:
        depth = await self.stats.broker_queue_depth()
        if self.stats.embedded:
            return "ok", {"backend": "in-memory", "queue_depth": depth}
        return ("ok" if depth is not None else "degraded"), {"backend": "redis", "queue_depth": depth}

    def _since(self, seconds: float) -> datetime:
        return self.clock.now() - timedelta(seconds=seconds)

    async def _scheduler(self) -> tuple[ComponentState, Mapping[str, object]]:
        live = await self.heartbeats.list_kind("scheduler", seen_since=self._since(LEADER_FRESH_S))
        leader = next((h for h in live if h.is_leader), None)
        return ("ok" if leader else "degraded"), {
            "leader": None if leader is None else {**_beat(leader), "leader_since": (
                leader.leader_since.isoformat() if leader.leader_since else None)},
            "standbys": sum(1 for h in live if h is not leader)}

    async def _workers(self) -> tuple[ComponentState, Mapping[str, object]]:
        live = await self.heartbeats.list_kind("worker", seen_since=self._since(WORKER_FRESH_S))
        detail = {"live": len(live), "running_tasks": sum(h.running_tasks for h in live),
                  "workers": [_beat(h) for h in live[:50]]}
        if self.stats.embedded:
            return "ok", {**detail, "embedded": True}
        return ("ok" if live else "degraded"), detail

    async def _partitions(self) -> tuple[ComponentState, Mapping[str, object]]:
        if not self.partitions.supported:
            return "ok", {"supported": False, "reason": self.partitions.reason}
        default_rows: dict[str, int] = {}
        for child in await self.partitions.details():
            if child.is_default:
                default_rows[child.table] = default_rows.get(child.table, 0) + (child.exact_rows or 0)
        state: ComponentState = "degraded" if any(default_rows.values()) else "ok"
        return state, {"supported": True, "default_rows": dict(sorted(default_rows.items()))}

    async def _running_sessions(self) -> tuple[ComponentState, Mapping[str, object]]:
        page = await self.sessions.list_sessions(SessionQuery(statuses=frozenset({SessionStatus.RUNNING})),
                                                 PageRequest(1, 1, (SortKey("created_at"),)))
        oldest = page.items[0] if page.items else None
        age = None if oldest is None else round((self.clock.now() - oldest.created_at).total_seconds(), 3)
        return "ok", {"running": page.total, "oldest_running_session_id": oldest.id if oldest else None,
                      "oldest_running_age_s": age}

    async def _logs(self) -> tuple[ComponentState, Mapping[str, object]]:
        depth, dropped = self.stats.log_queue()
        return "ok", {"queue_depth": depth, "dropped": dict(sorted(dropped.items()))}
