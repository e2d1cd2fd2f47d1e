"""OpenSessionLauncher: the SessionLauncher of jobs and pipeline steps, over the sessions slice's OpenSession.

Target selection for a fleet run is decided here, per kind, from the job's or step's params (api.md §1.13 and
operations.md §1.1): instance kinds take the Selection `{instance_ids?, db_types?, tags_any?, tags_all?}` (only
`instance_ids` → a `targeted` session, anything else → `fleet`) and get one record per active, non-deleted
matching instance; `capacity_aggregation` one record per period type; `classification` one per engine (a worker
skips engines without rules, NOTHING_TO_DO); `partition_maintenance` one per partitioned table;
`retention_cleanup` one per retention category (`application/sessions/retention.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import InstanceQuery, InstanceRepository
from whalefall.application.ports.scheduler import LaunchedSession, LaunchRequest, SessionLauncher
from whalefall.application.ports.sessions import NewRecord, SessionQuery, SessionStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.retention import RETENTION_CATEGORIES
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.errors import Problem
from whalefall.domain.instances import DbEngine
from whalefall.domain.sessions.sessions import (
    KIND_POLICIES,
    TERMINAL_SESSION_STATUSES,
    ItemType,
    SessionKind,
    SessionScope,
    SessionStatus,
)

PERIOD_TYPES: Final = ("daily", "weekly", "monthly", "quarterly", "yearly")
# The four partitioned parents of capacity.md §8 (tables/capacity.py, application/capacity/config.py).
PARTITIONED_TABLES: Final = ("database_size_samples", "instance_size_samples", "database_size_aggregations",
                             "instance_size_aggregations")
_SELECTION: Final = frozenset({"instance_ids", "db_types", "tags_any", "tags_all"})
_PARAMS: Final[Mapping[SessionKind, frozenset[str]]] = {
    SessionKind.ACCOUNTS_SYNC: _SELECTION,
    SessionKind.CAPACITY_COLLECTION: _SELECTION,
    SessionKind.CLASSIFICATION: _SELECTION,
    SessionKind.CAPACITY_AGGREGATION: frozenset({"period_types", "window"}),
}
MAX_SELECTION_IDS: Final = 5000


def _list(params: Mapping[str, object], key: str) -> list[object]:
    value = params.get(key)
    return list(value) if isinstance(value, list | tuple) else []


def selection_problems(params: Mapping[str, object]) -> list[Problem]:
    problems: list[Problem] = []
    ids = params.get("instance_ids")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i > 0
                                                 for i in ids):
            problems.append(Problem("instance_ids", "invalid_type", "must be a list of positive integers"))
        elif len(ids) > MAX_SELECTION_IDS:
            problems.append(Problem("instance_ids", "too_many_items", f"at most {MAX_SELECTION_IDS} ids",
                                    {"max": MAX_SELECTION_IDS}))
    engines = params.get("db_types")
    if engines is not None:
        allowed = [e.value for e in DbEngine]
        if not isinstance(engines, list):
            problems.append(Problem("db_types", "invalid_type", "must be a list"))
        else:
            problems.extend(Problem(f"db_types[{i}]", "invalid_choice", "unknown db_type", {"allowed": allowed})
                            for i, e in enumerate(engines) if e not in allowed)
    for key in ("tags_any", "tags_all"):
        value = params.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(t, str) for t in value)):
            problems.append(Problem(key, "invalid_type", "must be a list of tag names"))
    return problems


def kind_params_problems(kind: SessionKind, params: Mapping[str, object]) -> list[Problem]:
    """Unknown keys, then the kind's own rules; fields relative to the params object."""
    allowed = _PARAMS.get(kind, frozenset())
    problems = [Problem(key, "unknown_field", f"{kind.value} takes no parameter {key!r}")
                for key in params if key not in allowed]
    if allowed is _SELECTION:
        problems.extend(selection_problems(params))
    if kind is SessionKind.CAPACITY_AGGREGATION:
        periods = params.get("period_types")
        if periods is not None and (not isinstance(periods, list) or not periods):
            problems.append(Problem("period_types", "too_few_items", "list at least one period type"))
        elif periods is not None:
            problems.extend(Problem(f"period_types[{i}]", "invalid_choice", "unknown period type",
                                    {"allowed": list(PERIOD_TYPES)})
                            for i, p in enumerate(periods) if p not in PERIOD_TYPES)
        window = params.get("window")
        if window is not None and window != "last_complete":
            problems.append(Problem("window", "invalid_choice", "unknown window", {"allowed": ["last_complete"]}))
    return problems


@dataclass(frozen=True, slots=True)
class OpenSessionLauncher(SessionLauncher):
    """Resolves the records of a kind, then OpenSession creates, commits and enqueues them."""

    open_session: OpenSession
    store: SessionStore
    instances: InstanceRepository
    uow: UnitOfWork
    clock: Clock

    async def launch(self, request: LaunchRequest) -> LaunchedSession:
        scope, records = await self._targets(request.kind, request.params)
        await self.uow.commit()
        session = await self.open_session.execute(OpenSessionInput(
            kind=request.kind, scope=scope, trigger=request.trigger, records=records,
            created_by=request.created_by, origin_request_id=request.origin_request_id, params=dict(request.params),
            job_id=request.job_id, pipeline_run_id=request.pipeline_run_id, step_name=request.step_name))
        return LaunchedSession(session_id=session.id, kind=session.kind, scope=session.scope.value,
                               status=session.status, record_count=session.total)

    async def _targets(self, kind: SessionKind, params: Mapping[str, object]) -> tuple[SessionScope,
                                                                                        Sequence[NewRecord]]:
        item_type = KIND_POLICIES[kind].item_type
        if item_type is ItemType.INSTANCE:
            return await self._instances(params)
        if kind is SessionKind.CAPACITY_AGGREGATION:
            periods = [str(p) for p in _list(params, "period_types")] or list(PERIOD_TYPES)
            return SessionScope.FLEET, [NewRecord(item_type=item_type.value, item_key=p) for p in periods]
        if kind is SessionKind.CLASSIFICATION:
            engines = [str(e) for e in _list(params, "db_types")] or [e.value for e in DbEngine]
            return SessionScope.FLEET, [NewRecord(item_type=item_type.value, item_key=e) for e in engines]
        if kind is SessionKind.PARTITION_MAINTENANCE:
            return SessionScope.FLEET, [NewRecord(item_type=item_type.value, item_key=t) for t in PARTITIONED_TABLES]
        if kind is SessionKind.RETENTION_CLEANUP:
            return SessionScope.FLEET, [NewRecord(item_type=item_type.value, item_key=c)
                                        for c in RETENTION_CATEGORIES]
        return SessionScope.FLEET, []

    async def _instances(self, params: Mapping[str, object]) -> tuple[SessionScope, Sequence[NewRecord]]:
        ids = {int(str(i)) for i in _list(params, "instance_ids")}
        query = InstanceQuery(
            status="active", db_types=frozenset(DbEngine(str(e)) for e in _list(params, "db_types")),
            tags_any=frozenset(str(t) for t in _list(params, "tags_any")),
            tags_all=frozenset(str(t) for t in _list(params, "tags_all")))
        targeted = bool(ids) and set(params) == {"instance_ids"}
        found = [i for i in await self.instances.all_for_export(query) if not ids or int(i.id) in ids]
        records = [NewRecord(item_type=ItemType.INSTANCE.value, item_key=str(i.id), instance_id=int(i.id),
                             instance_name=i.name) for i in sorted(found, key=lambda i: int(i.id))]
        return (SessionScope.TARGETED if targeted else SessionScope.FLEET), records

    async def status(self, session_id: str) -> SessionStatus | None:
        session = await self.store.get(session_id)
        return session.status if session else None

    async def running_for_job(self, job_id: str) -> str | None:
        page = await self.store.list_sessions(
            SessionQuery(job_id=job_id, statuses=frozenset({SessionStatus.RUNNING})),
            PageRequest(1, 1, (SortKey("created_at", descending=True),)))
        return page.items[0].id if page.items else None

    async def cancel(self, session_id: str, *, by: int | None) -> None:
        session = await self.store.get(session_id)
        if session is None or session.status in TERMINAL_SESSION_STATUSES:
            return
        await self.store.request_cancel(session_id, by=by, now=self.clock.now())
        await self.uow.commit()

    def params_problems(self, kind: SessionKind, params: Mapping[str, object]) -> Sequence[Problem]:
        return kind_params_problems(kind, params)
