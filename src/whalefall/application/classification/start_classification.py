"""StartClassification: resolve a selection to engines and open a `classification` session (§9, api.md §1.13)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from whalefall.application.errors import AlreadyRunningError
from whalefall.application.ports.classification import AccountFactsSource, AssignmentStore, ClassificationStore
from whalefall.application.ports.sessions import (
    FleetLockHeldError,
    NewRecord,
    SessionQuery,
    SessionStore,
    SessionView,
)
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.errors import InvalidReferenceError, Problem
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

_OPEN_RECORDS: Final = frozenset({RecordStatus.PENDING, RecordStatus.RUNNING})


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassificationSelection:
    """`instance_ids` only → targeted; anything else (empty included: every active instance) → fleet."""

    instance_ids: tuple[int, ...] | None = None
    db_types: frozenset[DbEngine] = frozenset()

    @property
    def targeted(self) -> bool:
        return self.instance_ids is not None and not self.db_types


@dataclass(frozen=True, slots=True, kw_only=True)
class StartClassificationInput:
    actor: Actor
    selection: ClassificationSelection = field(default_factory=ClassificationSelection)
    trigger: SessionTrigger = SessionTrigger.MANUAL


@dataclass(frozen=True, slots=True)
class StartClassification:
    """Queue auto-classify (permission `sync:run`): one record per engine that, within the selection, has active
    rules or currently has auto assignments (so disabling an engine's last rule clears its assignments).

    Listed instance ids that are unknown, deleted or inactive → 422 INVALID_REFERENCE. A fleet request meeting a
    running fleet classification session → 409 JOB_RUNNING; any request whose engines and instances overlap a
    pending or running classification record → 409 ALREADY_RUNNING (context.session_id). Session creation and
    enqueue-after-commit are OpenSession's rules.
    """

    facts: AccountFactsSource
    store: ClassificationStore
    assignments: AssignmentStore
    sessions: SessionStore
    open_session: OpenSession

    async def execute(self, data: StartClassificationInput) -> SessionView:
        data.actor.require(Permission.SYNC_RUN)
        selection = data.selection
        wanted = frozenset(selection.instance_ids) if selection.instance_ids is not None else None
        instances = await self.facts.instances_of(wanted, selection.db_types)
        if selection.instance_ids is not None:
            known = await self.facts.instances_of(wanted, frozenset())
            problems = [Problem(f"body.instance_ids[{index}]", "not_found",
                                f"instance {instance_id} does not exist or is inactive", {"instance_id": instance_id})
                        for index, instance_id in enumerate(selection.instance_ids) if instance_id not in known]
            if problems:
                raise InvalidReferenceError(problems=problems)
        engines = set(instances.values()) if wanted is not None else set(selection.db_types or DbEngine)
        with_rules = {rule.db_type for rule in await self.store.active_rules(frozenset(engines))}
        counts = await self.assignments.current_counts(frozenset(engines), wanted or frozenset())
        assigned = {DbEngine(db) for per in counts.values() for db, n in per.items() if n}
        chosen = sorted(e for e in engines if e in with_rules or e in assigned)
        scope = SessionScope.TARGETED if selection.targeted else SessionScope.FLEET
        await self._refuse_overlap(scope, wanted, chosen)
        params: dict[str, object] = {}
        if wanted is not None:
            params["instance_ids"] = sorted(wanted)
        if selection.db_types:
            params["db_types"] = sorted(d.value for d in selection.db_types)
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.CLASSIFICATION, scope=scope, trigger=data.trigger,
            records=[NewRecord(item_type="engine", item_key=engine.value) for engine in chosen],
            created_by=data.actor.user_id, origin_request_id=data.actor.request_id, params=params))

    async def _refuse_overlap(self, scope: SessionScope, wanted: frozenset[int] | None,
                              engines: list[DbEngine]) -> None:
        running = await self.sessions.list_sessions(SessionQuery(
            kinds=frozenset({SessionKind.CLASSIFICATION}), statuses=frozenset({SessionStatus.RUNNING})),
            PageRequest(1, 200))
        for session in running.items:
            if scope is SessionScope.FLEET and session.scope is SessionScope.FLEET:
                raise FleetLockHeldError(session.id)
            ids = session.params.get("instance_ids")
            theirs = frozenset(int(i) for i in ids if isinstance(i, int)) if isinstance(ids, list) else None
            if wanted is not None and theirs is not None and not wanted & theirs:
                continue
            records = await self.sessions.list_records(session.id, PageRequest(1, 200), statuses=_OPEN_RECORDS)
            if any(record.item_key in {e.value for e in engines} for record in records.items):
                raise AlreadyRunningError("an overlapping classification run is pending or running",
                                          context={"session_id": session.id})
