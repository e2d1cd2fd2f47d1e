"""Automatic auto-classify triggers (classification.md §9): the debounced fleet run after rule and classification
writes, and the targeted run after an accounts sync.

Decisions where the spec is silent:
- Debounce store: one pending-run row in the metadata store (`PendingRuns`), written in the same transaction as the
  write that requests it, so a rolled-back write requests nothing and every API process shares the same request.
  The first write of a quiet period fixes the due time (write + 30 s); later writes before it fires join it, so N
  writes within 30 s cause one session and a steady stream of edits still gets a run every 30 s.
- The due request is fired by the scheduler leader's periodic pass (`FireDueClassification`); claiming deletes the
  row, so two processes never both fire. When an overlapping classification is running, the request is postponed
  by another 30 s instead of being lost (that run may have read the rules before the write).
- After-sync: a listener of finalised `accounts_sync` sessions starts one targeted session for the instances whose
  record completed. Sessions that belong to a pipeline run are left to the pipeline's own classification step. An
  overlapping run (or an unreachable queue) makes it fall back to the debounced fleet request instead of waiting;
  the listener runs when the whole sync session is terminal, so a fleet sync is classified once, not per instance.
- Manual assignment writes also request the debounced run, because primary flags depend on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from whalefall.application.classification.start_classification import (
    ClassificationSelection,
    StartClassification,
    StartClassificationInput,
)
from whalefall.application.errors import AlreadyRunningError, QueueUnavailableError
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.classification import PendingRuns
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.sessions import FleetLockHeldError, SessionStore, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.errors import InvalidReferenceError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionTrigger

logger = logging.getLogger(__name__)
DEBOUNCE_S: Final = 30.0
TRIGGER_ACTOR: Final = Actor(actor_type=ActorType.SCHEDULER, name="scheduler",
                             permissions=frozenset({Permission.SYNC_RUN}))
_RECORD_PAGE: Final = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSettings:
    """`classification.after_sync` and `classification.on_rule_change` (both default true)."""

    after_sync: bool = True
    on_rule_change: bool = True
    debounce_s: float = DEBOUNCE_S


@dataclass(frozen=True, slots=True)
class WriteTrail:
    """What every classification, rule or manual assignment write leaves behind in its own transaction: the audit
    event (api.md §4.9) and, when `classification.on_rule_change` is on, the debounced fleet run request. (A write
    refused with 409 rolls both back; its `failure` event is the HTTP layer's, entrypoints/http/failure_audit.py.)"""

    audit: AuditLog
    pending: PendingRuns
    settings: TriggerSettings
    clock: Clock

    async def written(self, entry: AuditEntry) -> None:
        await self.audit.record(entry)
        if self.settings.on_rule_change:
            await self.pending.request(self.clock.now() + timedelta(seconds=self.settings.debounce_s))


async def audit_start(audit: AuditLog, uow: UnitOfWork, session: SessionView, reason: str,
                      **details: object) -> None:
    """`session.start` by the scheduler actor (api.md §4.9: the fire that started background work is audited),
    in its own transaction right after the session's."""
    await audit.record(AuditEntry(actor=TRIGGER_ACTOR, action="session.start", target_type="session",
                                  target_id=session.id, details={
                                      "kind": session.kind.value, "scope": session.scope.value, "reason": reason,
                                      "params": dict(session.params), **details}))
    await uow.commit()


@dataclass(frozen=True, slots=True)
class FireDueClassification:
    """Start the debounced fleet classification when its request is due (scheduler leader, every few seconds).
    Returns the session started, or None (nothing due, or postponed because a classification is running)."""

    pending: PendingRuns
    start: StartClassification
    uow: UnitOfWork
    clock: Clock
    settings: TriggerSettings
    audit: AuditLog

    async def execute(self) -> SessionView | None:
        now = self.clock.now()
        if not await self.pending.claim_due(now):
            await self.uow.rollback()
            return None
        try:
            # OpenSession commits the claim together with the new session.
            session = await self.start.execute(StartClassificationInput(
                actor=TRIGGER_ACTOR, selection=ClassificationSelection(), trigger=SessionTrigger.SCHEDULED))
            await audit_start(self.audit, self.uow, session, "on_rule_change")
            return session
        except (AlreadyRunningError, FleetLockHeldError):
            await self.uow.rollback()
            await self.pending.postpone(now + timedelta(seconds=self.settings.debounce_s))
            await self.uow.commit()
            logger.info("classification.debounced_run_postponed")
            return None


@dataclass(frozen=True, slots=True)
class ClassifyAfterSync:
    """Start a targeted classification of the instances an accounts sync just synced (after its commit).
    Called once per finalised `accounts_sync` session; idempotence is best effort (a repeated notification starts
    at most one more, harmless, run)."""

    sessions: SessionStore
    start: StartClassification
    pending: PendingRuns
    uow: UnitOfWork
    clock: Clock
    settings: TriggerSettings
    audit: AuditLog

    async def execute(self, session: SessionView) -> SessionView | None:
        # Completed records committed their ledger even in a cancelled or partial session: classify those.
        if (not self.settings.after_sync or session.kind is not SessionKind.ACCOUNTS_SYNC
                or session.pipeline_run_id is not None):
            return None
        instance_ids = await self._synced_instances(session.id)
        if not instance_ids:
            return None
        try:
            started = await self.start.execute(StartClassificationInput(
                actor=TRIGGER_ACTOR, selection=ClassificationSelection(instance_ids=instance_ids),
                trigger=SessionTrigger.SCHEDULED))
            await audit_start(self.audit, self.uow, started, "after_sync", accounts_sync_session_id=session.id)
            return started
        except InvalidReferenceError:  # an instance was deactivated or deleted since: nothing of it to classify
            await self.uow.rollback()
            return None
        except (AlreadyRunningError, FleetLockHeldError, QueueUnavailableError):
            await self.uow.rollback()
            await self.pending.postpone(self.clock.now() + timedelta(seconds=self.settings.debounce_s))
            await self.uow.commit()
            return None

    async def _synced_instances(self, session_id: str) -> tuple[int, ...]:
        found: set[int] = set()
        page = 1
        while True:
            batch = await self.sessions.list_records(session_id, PageRequest(page, _RECORD_PAGE),
                                                     statuses=frozenset({RecordStatus.COMPLETED}))
            found.update(r.instance_id for r in batch.items if r.instance_id is not None)
            if len(batch.items) < _RECORD_PAGE:
                break
            page += 1
        return tuple(sorted(found))
