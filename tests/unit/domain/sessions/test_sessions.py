"""Session kinds, record transitions (§1.3), counters and finalisation (O1, defect 9), claims and cancel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from whalefall.domain.errors import InvalidStateError
from whalefall.domain.sessions.records import (
    RECORD_TRANSITIONS,
    TERMINAL_RECORD_STATUSES,
    RecordErrorCode,
    RecordStatus,
    TransitionActor,
    can_transition,
    is_terminal,
    require_transition,
)
from whalefall.domain.sessions.sessions import (
    KIND_POLICIES,
    ItemType,
    RetryScope,
    SessionCounters,
    SessionFinishedError,
    SessionKind,
    SessionScope,
    SessionStatus,
    decide_claim,
    final_status,
    is_fleet_locked,
    require_cancellable,
    retries_connector_errors,
)

R = RecordStatus


@pytest.mark.parametrize(("records", "cancel", "status", "succeeded", "skipped"), [
    ([R.COMPLETED] * 5, False, SessionStatus.COMPLETED, 5, 0),
    ([R.COMPLETED] * 3 + [R.FAILED, R.SKIPPED], False, SessionStatus.PARTIAL, 3, 1),
    ([R.FAILED] * 2 + [R.SKIPPED] * 3, False, SessionStatus.FAILED, 0, 3),
    ([R.SKIPPED] * 4, False, SessionStatus.COMPLETED, 0, 4),
    ([R.COMPLETED] * 2 + [R.CANCELLED] * 3, True, SessionStatus.CANCELLED, 2, 0),
    ([], False, SessionStatus.COMPLETED, 0, 0),
])
def test_o1_session_finalisation(records: list[RecordStatus], cancel: bool, status: SessionStatus,
                                 succeeded: int, skipped: int) -> None:
    counters = SessionCounters.recompute(records)
    assert final_status(counters, cancel) is status
    assert (counters.succeeded, counters.skipped, counters.total) == (succeeded, skipped, len(records))


def test_o1_partial_row_counts_every_state() -> None:
    counters = SessionCounters.recompute([R.COMPLETED] * 3 + [R.FAILED, R.SKIPPED])
    assert counters == SessionCounters(total=5, succeeded=3, failed=1, skipped=1)


@pytest.mark.parametrize(("records", "with_errors", "cancel", "status"), [
    ([R.COMPLETED], 1, False, SessionStatus.PARTIAL),              # classification: one engine, account errors
    ([R.COMPLETED] * 3, 1, False, SessionStatus.PARTIAL),
    ([R.COMPLETED, R.FAILED], 1, False, SessionStatus.PARTIAL),
    ([R.COMPLETED, R.SKIPPED], 1, False, SessionStatus.PARTIAL),
    ([R.COMPLETED] * 2 + [R.CANCELLED], 2, True, SessionStatus.CANCELLED),  # cancel still wins
    ([R.COMPLETED] * 3, 0, False, SessionStatus.COMPLETED),        # the O1 table is the with_errors = 0 case
    ([R.FAILED] * 2, 0, False, SessionStatus.FAILED),
])
def test_completed_records_with_item_errors_make_the_session_partial(
        records: list[RecordStatus], with_errors: int, cancel: bool, status: SessionStatus) -> None:
    counters = SessionCounters.recompute(records, completed_with_errors=with_errors)
    assert final_status(counters, cancel) is status
    # with_errors is a subset of succeeded, never a state of its own: the sum invariant is untouched
    assert counters.total == len(records) == (counters.pending + counters.running + counters.succeeded
                                              + counters.failed + counters.skipped + counters.cancelled)


def test_skips_are_not_successes() -> None:
    counters = SessionCounters.recompute([R.SKIPPED] * 4)
    assert (counters.succeeded, counters.skipped) == (0, 4)


@pytest.mark.parametrize("open_status", [R.PENDING, R.RUNNING])
@pytest.mark.parametrize("cancel", [False, True])
def test_session_stays_running_while_a_record_is_open(open_status: RecordStatus, cancel: bool) -> None:
    counters = SessionCounters.recompute([R.COMPLETED, R.FAILED, open_status])
    assert final_status(counters, cancel) is SessionStatus.RUNNING


def test_progress() -> None:
    counters = SessionCounters.recompute([R.COMPLETED, R.FAILED, R.SKIPPED, R.CANCELLED, R.RUNNING, R.PENDING])
    assert counters.progress == pytest.approx(4 / 6)
    assert counters.progress_percent == 66
    assert SessionCounters.recompute([R.COMPLETED] * 199 + [R.RUNNING]).progress_percent == 99
    assert (SessionCounters().progress, SessionCounters().progress_percent) == (1.0, 100)


@given(st.lists(st.sampled_from(list(RecordStatus)), max_size=60))
def test_counters_total_is_the_sum_of_states(records: list[RecordStatus]) -> None:
    c = SessionCounters.recompute(records)
    assert c.total == len(records) == c.pending + c.running + c.succeeded + c.failed + c.skipped + c.cancelled
    assert 0 <= c.progress_percent <= 100
    assert (c.progress_percent == 100) == (c.open == 0)
    status = final_status(c, cancel_requested=False)
    assert (status is SessionStatus.RUNNING) == (c.open > 0)


@pytest.mark.parametrize(("source", "target", "by"), [
    (R.PENDING, R.RUNNING, TransitionActor.CLAIM),
    (R.PENDING, R.SKIPPED, TransitionActor.CLAIM),
    (R.PENDING, R.CANCELLED, TransitionActor.CANCEL),
    (R.PENDING, R.FAILED, TransitionActor.REAPER),
    (R.RUNNING, R.COMPLETED, TransitionActor.WORKER),
    (R.RUNNING, R.SKIPPED, TransitionActor.WORKER),
    (R.RUNNING, R.FAILED, TransitionActor.WORKER),
    (R.RUNNING, R.FAILED, TransitionActor.REAPER),
    (R.RUNNING, R.CANCELLED, TransitionActor.WORKER),
    (R.RUNNING, R.PENDING, TransitionActor.SHUTDOWN),
])
def test_allowed_record_transitions(source: RecordStatus, target: RecordStatus, by: TransitionActor) -> None:
    assert can_transition(source, target, by)
    assert can_transition(source, target)
    require_transition(source, target, by)


def test_the_table_has_exactly_the_ten_transitions_of_the_spec() -> None:
    assert sum(len(actors) for actors in RECORD_TRANSITIONS.values()) == 10


@pytest.mark.parametrize(("source", "target", "by"), [
    (R.PENDING, R.COMPLETED, None),
    (R.PENDING, R.FAILED, TransitionActor.WORKER),
    (R.RUNNING, R.COMPLETED, TransitionActor.REAPER),
    (R.PENDING, R.PENDING, None),
])
def test_forbidden_record_transitions(source: RecordStatus, target: RecordStatus, by: TransitionActor | None) -> None:
    assert not can_transition(source, target, by)
    with pytest.raises(InvalidStateError):
        require_transition(source, target, by)


@pytest.mark.parametrize("terminal", sorted(TERMINAL_RECORD_STATUSES))
def test_terminal_records_are_immutable(terminal: RecordStatus) -> None:
    assert is_terminal(terminal)
    assert not any(can_transition(terminal, target) for target in RecordStatus)


def test_open_records_are_not_terminal() -> None:
    assert not is_terminal(R.PENDING) and not is_terminal(R.RUNNING)


def test_kind_table() -> None:
    assert set(KIND_POLICIES) == set(SessionKind)
    assert KIND_POLICIES[SessionKind.TABLE_SIZES].item_type is ItemType.DATABASE
    assert KIND_POLICIES[SessionKind.CAPACITY_AGGREGATION].retries is RetryScope.METADATA_STORE
    assert KIND_POLICIES[SessionKind.PARTITION_MAINTENANCE].retries is RetryScope.LOCK_TIMEOUTS
    assert not KIND_POLICIES[SessionKind.CONNECTION_TEST].fleet_lock
    assert KIND_POLICIES[SessionKind.CREDENTIAL_ROTATION].item_type is ItemType.BATCH
    assert retries_connector_errors(SessionKind.ACCOUNTS_SYNC)
    assert not retries_connector_errors(SessionKind.CLASSIFICATION)


@pytest.mark.parametrize(("kind", "scope", "locked"), [
    (SessionKind.ACCOUNTS_SYNC, SessionScope.FLEET, True),
    (SessionKind.ACCOUNTS_SYNC, SessionScope.TARGETED, False),
    (SessionKind.CONNECTION_TEST, SessionScope.FLEET, False),
    (SessionKind.TABLE_SIZES, SessionScope.FLEET, False),
])
def test_fleet_lock(kind: SessionKind, scope: SessionScope, locked: bool) -> None:
    assert is_fleet_locked(kind, scope) is locked


def test_wire_values() -> None:
    assert [s.value for s in SessionStatus] == ["running", "completed", "partial", "failed", "cancelled"]
    assert [s.value for s in RecordStatus] == ["pending", "running", "completed", "failed", "skipped", "cancelled"]
    assert SessionKind("partition_maintenance") is SessionKind.PARTITION_MAINTENANCE


def test_claims() -> None:
    assert decide_claim(SessionKind.ACCOUNTS_SYNC, cancel_requested=True).status is None
    assert decide_claim(SessionKind.ACCOUNTS_SYNC, cancel_requested=False).status is R.RUNNING
    deleted = decide_claim(SessionKind.ACCOUNTS_SYNC, cancel_requested=False, instance_deleted=True,
                           instance_active=False)
    assert (deleted.status, deleted.error_code) == (R.SKIPPED, RecordErrorCode.INSTANCE_DELETED)
    inactive = decide_claim(SessionKind.CAPACITY_COLLECTION, cancel_requested=False, instance_active=False)
    assert (inactive.status, inactive.error_code) == (R.SKIPPED, RecordErrorCode.INSTANCE_INACTIVE)
    tested = decide_claim(SessionKind.CONNECTION_TEST, cancel_requested=False, instance_active=False)
    assert tested.status is R.RUNNING
    busy = decide_claim(SessionKind.ACCOUNTS_SYNC, cancel_requested=False, other_running_session_id="6f0c")
    assert (busy.status, busy.error_code, busy.context) == (R.SKIPPED, RecordErrorCode.ALREADY_RUNNING,
                                                            {"session_id": "6f0c"})


@pytest.mark.parametrize("status", [s for s in SessionStatus if s is not SessionStatus.RUNNING])
def test_terminal_sessions_cannot_be_cancelled(status: SessionStatus) -> None:
    with pytest.raises(SessionFinishedError) as caught:
        require_cancellable(status)
    assert caught.value.code == "SESSION_FINISHED"
    assert isinstance(caught.value, InvalidStateError)


def test_running_session_can_be_cancelled() -> None:
    require_cancellable(SessionStatus.RUNNING)
