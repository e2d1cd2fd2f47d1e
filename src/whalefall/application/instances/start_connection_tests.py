"""StartConnectionTests: queue connection tests of listed instances as one `connection_test` session."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.audit import AuditEntry, AuditLog, AuditOutcome
from whalefall.application.ports.instances import InstanceRecord, InstanceRepository
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import InvalidReferenceError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId
from whalefall.domain.sessions.sessions import (
    MAX_CONNECTION_TEST_TARGETS,
    ItemType,
    SessionKind,
    SessionScope,
    SessionTrigger,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartConnectionTestsInput:
    actor: Actor
    instance_ids: tuple[int, ...]


def distinct_ids(instance_ids: tuple[int, ...]) -> tuple[int, ...]:
    """The ids in request order, each once (a repeated id is tested once, not refused)."""
    return tuple(dict.fromkeys(instance_ids))


@dataclass(frozen=True, slots=True)
class StartConnectionTests:
    """Queue a batch connection test (`instances:write`; api.md §3.5, capacity.md §2.4): 1–100 instance ids
    (else 400 on `body.instance_ids`), each tested once even when listed twice. Inactive instances are tested
    (register inactive → test → activate); unknown or soft-deleted ids → 422 INVALID_REFERENCE with one
    `not_found` detail per id (`body.instance_ids[i]`), nothing queued. The instances become the records of one
    targeted, never fleet-locked `connection_test` session (OpenSession: enqueue after commit, 503
    QUEUE_UNAVAILABLE with nothing left behind); the worker runs each test like the synchronous route and records
    the outcome on the record. One audit event `session.start` (kind, session id, instance ids) once the session
    exists."""

    instances: InstanceRepository
    open_session: OpenSession
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, data: StartConnectionTestsInput) -> SessionView:
        data.actor.require(Permission.INSTANCES_WRITE)
        ids = distinct_ids(data.instance_ids)
        if not 1 <= len(ids) <= MAX_CONNECTION_TEST_TARGETS:
            raise ValidationProblemsError([Problem(
                "body.instance_ids", "too_long" if ids else "too_short",
                f"between 1 and {MAX_CONNECTION_TEST_TARGETS} instance ids", {"count": len(ids)})])
        chosen = await self._resolve(data.instance_ids)
        session = await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.CONNECTION_TEST, scope=SessionScope.TARGETED, trigger=SessionTrigger.MANUAL,
            records=[NewRecord(item_type=ItemType.INSTANCE.value, item_key=str(i.id), instance_id=int(i.id),
                               instance_name=i.name) for i in chosen],
            created_by=data.actor.user_id, origin_request_id=data.actor.request_id,
            params={"instance_ids": [int(i.id) for i in chosen]}))
        await self.audit.record(AuditEntry(
            actor=data.actor, action="session.start", target_type="session", target_id=session.id,
            outcome=AuditOutcome.SUCCESS,
            details={"kind": SessionKind.CONNECTION_TEST.value, "instance_ids": [int(i.id) for i in chosen]}))
        await self.uow.commit()
        return session

    async def _resolve(self, instance_ids: tuple[int, ...]) -> list[InstanceRecord]:
        chosen: dict[int, InstanceRecord] = {}
        problems: list[Problem] = []
        for index, instance_id in enumerate(instance_ids):
            if instance_id in chosen:
                continue
            found = await self.instances.get(InstanceId(instance_id))
            if found is None or found.deleted_at is not None:
                problems.append(Problem(f"body.instance_ids[{index}]", "not_found",
                                        f"instance {instance_id} does not exist", {"instance_id": instance_id}))
            else:
                chosen[instance_id] = found
        if problems:
            raise InvalidReferenceError(problems=problems)
        return list(chosen.values())
