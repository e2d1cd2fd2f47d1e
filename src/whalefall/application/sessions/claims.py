"""Claiming records (operations §1.3 `pending → running | skipped`, §1.1 one running record per kind and instance),
for one record or for the concurrent claims of a worker process together, in the caller's transaction."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from whalefall.application.ports.sessions import RecordFinish, RecordView, SessionView
from whalefall.application.sessions.transitions import BatchFinishStore, FinishRequest
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import ItemType, SessionKind, decide_claim


@dataclass(frozen=True, slots=True)
class ClaimSnapshot:
    """What a claim decides on, read with one statement: the record, its session and its instance's state
    (`instance_deleted` also for a purged instance of an instance record; `instance_active` True without one).
    When the store could make that same read atomic with the claim (SQLite: the transaction holds the write lock),
    `others_checked` is True and `other_running_session_id` is the session of another running record of the kind
    for the instance; otherwise the claim asks `running_sessions_for_instances` (PostgreSQL: advisory locks).
    `db_type` is the instance's engine (None without an instance row), read in the same statement for the
    runner's metrics labels."""

    record: RecordView
    session: SessionView
    instance_deleted: bool
    instance_active: bool
    others_checked: bool = False
    other_running_session_id: str | None = None
    db_type: str | None = None


class ClaimReader(Protocol):
    """The claim's read side next to the sessions port."""

    @abstractmethod
    async def claim_snapshots(self, record_ids: Sequence[int]) -> dict[int, ClaimSnapshot]:
        """Each record with its session and instance state, read with one statement; unknown ids are absent."""


class BatchClaimStore(ClaimReader, BatchFinishStore, Protocol):
    """Everything a claim writes or checks, in the caller's transaction."""

    @abstractmethod
    async def running_sessions_for_instances(self, keys: Sequence[tuple[SessionKind, int]]
                                             ) -> dict[tuple[SessionKind, int], str]:
        """For each (kind, instance) with a running record, that record's session id. PostgreSQL first takes a
        transaction-scoped advisory lock per key (in key order), so the check and the claims that follow in the
        same transaction are atomic against concurrent claimers."""

    @abstractmethod
    async def claim_many(self, record_ids: Sequence[int], *, worker_id: str, lease_ttl_s: float,
                         now: datetime) -> list[RecordView]:
        """pending → running (attempt += 1, lease set, `started_at` kept) with one conditional update, refused for
        records of cancel-requested or terminal sessions; each session's counters move once. The records claimed
        (a refused or already-claimed id is absent)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimRequest:
    """A delivery of `record_id` to worker `worker_id`."""

    record_id: int
    worker_id: str
    lease_ttl_s: float


@dataclass(frozen=True, slots=True)
class Claimed:
    """The record is now running under the requester's lease; `db_type` is its instance's engine, if any."""

    record: RecordView
    session: SessionView
    db_type: str | None = field(default=None, compare=False)  # metrics label only, not the outcome


@dataclass(frozen=True, slots=True)
class SkippedAtClaim:
    """The record was skipped at claim (deleted or inactive instance, ALREADY_RUNNING); `finalised` when that was
    the session's last open record; `kind` is the record's session kind (for the runner's metrics)."""

    session_id: str
    finalised: bool
    kind: SessionKind | None = field(default=None, compare=False)  # metrics label only, not the outcome


ClaimOutcome = Claimed | SkippedAtClaim | None
"""None = ignored: unknown, not pending (terminal, running elsewhere) or refused (cancel-requested session)."""


def instance_state(record: RecordView, *, found: bool, deleted: bool, active: bool) -> tuple[bool, bool]:
    """(deleted, active) of the record's instance from its row (`found` False when the row is gone); a purged
    instance (id set to NULL) counts as deleted."""
    if record.instance_id is None:
        return record.item_type == ItemType.INSTANCE.value, True
    if not found or deleted:
        return True, False
    return False, active


async def claim_records(store: BatchClaimStore, requests: Sequence[ClaimRequest], *,
                        now: datetime) -> list[ClaimOutcome]:
    """Decide and write the claims of `requests` in the caller's transaction; one outcome per request, in order.

    Per record, `decide_claim` in §1.3 order. Two pending records of one batch for the same (kind, instance) are
    decided in record-id order: the first is claimed, the second skipped ALREADY_RUNNING with the first's session
    id, exactly as if they had been claimed one after the other. A repeated record id is claimed once (the
    repeats are ignored, like a duplicate delivery)."""
    snapshots = await store.claim_snapshots(sorted({r.record_id for r in requests}))
    unchecked = sorted({(s.record.kind, s.record.instance_id) for s in snapshots.values()
                        if s.record.instance_id is not None and not s.others_checked
                        and s.record.status is RecordStatus.PENDING})
    others = await store.running_sessions_for_instances(unchecked) if unchecked else {}
    taken: dict[tuple[SessionKind, int], str] = {}
    decided: dict[int, ClaimRequest] = {}
    skips: list[FinishRequest] = []
    for request in sorted(requests, key=lambda r: r.record_id):
        snapshot = snapshots.get(request.record_id)
        if snapshot is None or snapshot.record.status is not RecordStatus.PENDING or request.record_id in decided:
            continue
        record = snapshot.record
        key = (record.kind, record.instance_id) if record.instance_id is not None else None
        other = None
        if key is not None:
            other = taken.get(key) or (snapshot.other_running_session_id if snapshot.others_checked
                                       else others.get(key))
        decision = decide_claim(record.kind, cancel_requested=snapshot.session.cancel_requested_at is not None,
                                instance_deleted=snapshot.instance_deleted,
                                instance_active=snapshot.instance_active, other_running_session_id=other)
        if decision.status is None:
            continue
        decided[request.record_id] = request
        if decision.status is RecordStatus.SKIPPED:
            assert decision.error_code is not None
            skips.append(FinishRequest(record_id=record.id, from_status=RecordStatus.PENDING, outcome=RecordFinish(
                status=RecordStatus.SKIPPED, error_code=decision.error_code.value,
                details=dict(decision.context or {}))))
        elif key is not None:
            taken[key] = record.session_id
    receipts = await store.finish_many(skips, now=now) if skips else []
    skipped = {skip.record_id: receipt for skip, receipt in zip(skips, receipts, strict=True) if receipt.changed}
    skip_ids = {skip.record_id for skip in skips}
    groups: dict[tuple[str, float], list[int]] = {}
    for record_id, request in decided.items():
        if record_id not in skip_ids:
            groups.setdefault((request.worker_id, request.lease_ttl_s), []).append(record_id)
    claimed: dict[int, RecordView] = {}
    for (worker_id, lease_ttl_s), ids in sorted(groups.items()):
        for running in await store.claim_many(ids, worker_id=worker_id, lease_ttl_s=lease_ttl_s, now=now):
            claimed[running.id] = running
    outcomes: list[ClaimOutcome] = []
    for request in requests:
        receipt, got = skipped.get(request.record_id), claimed.get(request.record_id)
        if decided.get(request.record_id) is not request:
            outcomes.append(None)
        elif receipt is not None and receipt.session_id is not None:
            outcomes.append(SkippedAtClaim(receipt.session_id, receipt.finalised,
                                           snapshots[request.record_id].record.kind))
        elif got is not None:
            snapshot = snapshots[request.record_id]
            outcomes.append(Claimed(got, snapshot.session, snapshot.db_type))
        else:
            outcomes.append(None)
    return outcomes
