"""Audit events of classification writes (api.md §4.9), the debounced fleet run after writes and the targeted run
after an accounts sync (classification.md §9 triggers)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dishka import AsyncContainer
from sqlalchemy import insert, text

from tests.fakes.sessions import RecordingQueueProvider, RecordingTaskQueue, ScriptedWork, SettableClock
from tests.integration.classification.support import SUPER, add_accounts, create_rule, mysql_instance, now
from tests.integration.sessions.harness import Harness
from tests.support.http_client import Api, data_of, error_of, make_settings, running_api
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.sessions import sync_records, sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.start_classification import StartClassification
from whalefall.application.classification.triggers import (
    ClassifyAfterSync,
    FireDueClassification,
    TriggerSettings,
)
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.classification import (
    AccountFactsSource,
    AssignmentStore,
    ClassificationStore,
    PendingRuns,
)
from whalefall.application.ports.sessions import SessionStore, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.finalised import SessionFinalisedListeners
from whalefall.application.sessions.open_session import OpenSession, SessionDiscard
from whalefall.domain.identity.roles import Role
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.classification import ClassifyAfterSyncListener
from whalefall.entrypoints.scheduler.app import build_runtime

PENDING = "SELECT value FROM classification_counters WHERE name = 'pending_fleet_run_ms'"


@dataclass
class Triggers:
    fire: FireDueClassification
    after_sync: ClassifyAfterSync
    sessions: SessionStore


@asynccontextmanager
async def triggers(container: AsyncContainer, clock: SettableClock, queue: RecordingTaskQueue,
                   settings: TriggerSettings | None = None) -> AsyncIterator[Triggers]:
    """The trigger use cases on the real stores, with a settable clock and a recording queue."""
    async with container() as scope:
        uow, pending = await scope.get(UnitOfWork), await scope.get(PendingRuns)
        sessions = await scope.get(SessionStore)
        opener = OpenSession(sessions, await scope.get(SessionDiscard), queue, uow, clock)
        start = StartClassification(await scope.get(AccountFactsSource), await scope.get(ClassificationStore),
                                    await scope.get(AssignmentStore), sessions, opener)
        chosen = settings or TriggerSettings()
        audit = await scope.get(AuditLog)
        yield Triggers(fire=FireDueClassification(pending, start, uow, clock, chosen, audit),
                       after_sync=ClassifyAfterSync(sessions, start, pending, uow, clock, chosen, audit),
                       sessions=sessions)


async def _events(api: Api, prefix: str) -> list[dict[str, Any]]:
    return await api.rows("SELECT action, target_type, target_id, actor_id, outcome, changes, details "
                          "FROM audit_events WHERE action LIKE :p ORDER BY id", p=f"{prefix}%")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_every_classification_rule_and_assignment_write_is_audited_with_before_and_after(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    operator_id = api.user(Role.OPERATOR).id
    created = data_of(await api.client.post("/api/v1/classifications", headers=op, json={
        "code": "dba", "display_name": "DBA", "risk_level": 2}))
    cid = created["id"]
    error_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "bad", "classification_id": cid, "db_type": "mysql", "expression": {"version": 3}}),
        422, "RULE_INVALID")
    assert await _events(api, "rule.") == [], "a refused write (422) is not audited"
    data_of(await api.client.patch(f"/api/v1/classifications/{cid}", headers=op, json={"display_name": "DBAs"}))
    rule = data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": "supers", "classification_id": cid, "db_type": "mysql", "expression": SUPER}))
    data_of(await api.client.patch(f"/api/v1/rules/{rule['id']}", headers=op, json={
        "expression": {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOGIN"}}}}))
    data_of(await api.client.delete(f"/api/v1/rules/{rule['id']}", headers=op))
    instance = await mysql_instance(api, "m1")
    (account,) = await add_accounts(api, instance, [["SUPER"]])
    manual = data_of(await api.client.post("/api/v1/classification-assignments", headers=op, json={
        "account_id": account, "classification_id": cid, "note": "on call"}))
    data_of(await api.client.delete(f"/api/v1/classification-assignments/{manual['id']}", headers=op))
    data_of(await api.client.delete(f"/api/v1/classifications/{cid}", headers=op))

    events = await _events(api, "classification.") + await _events(api, "rule.") + await _events(api, "assignment.")
    assert [(e["action"], e["target_id"]) for e in events] == [
        ("classification.create", str(cid)), ("classification.update", str(cid)),
        ("classification.delete", str(cid)), ("rule.create", str(rule["id"])), ("rule.update", str(rule["id"])),
        ("rule.delete", str(rule["id"])), ("assignment.create", str(manual["id"])),
        ("assignment.delete", str(manual["id"]))]
    assert {e["actor_id"] for e in events} == {operator_id} and {e["outcome"] for e in events} == {"success"}
    by_action = {e["action"]: e for e in events}
    assert _json(by_action["classification.create"]["details"])["after"]["code"] == "dba"
    assert _json(by_action["classification.update"]["changes"]) == {"display_name": ["DBA", "DBAs"]}
    changes = _json(by_action["rule.update"]["changes"])
    assert changes["rule_revision"] == [1, 2] and set(changes) == {"rule_revision", "fingerprint"}
    assert _json(by_action["rule.delete"]["details"])["before"]["name"] == "supers"
    assert _json(by_action["assignment.create"]["details"])["after"] == {
        "account_id": account, "classification_id": cid, "source": "manual", "note": "on call"}
    assert _json(by_action["classification.delete"]["details"])["before"]["display_name"] == "DBAs"


async def test_writes_within_the_debounce_request_one_run_that_fires_once_when_due(api: Api) -> None:
    assert await api.rows(PENDING) == []
    before = await now(api)
    await create_rule(api, SUPER, "supers")
    (first,) = await api.rows(PENDING)
    due = datetime.fromtimestamp(first["value"] / 1000, UTC)
    assert 29 <= (due - before).total_seconds() <= 40
    await create_rule(api, {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOGIN"}}}, "login")
    assert await api.rows(PENDING) == [first], "a later write joins the pending request"

    clock, queue = SettableClock(await now(api)), RecordingTaskQueue()
    async with triggers(api.container, clock, queue) as t:
        assert await t.fire.execute() is None, "not due yet"
        assert await api.rows(PENDING) == [first]
        clock.advance(45)
        session = await t.fire.execute()
        assert session is not None
        assert (session.kind, session.scope, session.trigger) == (
            SessionKind.CLASSIFICATION, SessionScope.FLEET, SessionTrigger.SCHEDULED)
        assert session.total == 1 and len(queue.enqueued) == 1, "one record: mysql has active rules"
        assert await api.rows(PENDING) == []
        assert await t.fire.execute() is None, "claimed: nothing left to fire"
    (event,) = await _events(api, "session.start")
    assert (event["target_id"], _json(event["details"])["reason"]) == (session.id, "on_rule_change")
    sessions = await api.rows("SELECT id FROM sync_sessions WHERE kind = 'classification'")
    assert len(sessions) == 1


async def test_a_due_run_meeting_a_running_fleet_session_is_postponed_not_lost(api: Api) -> None:
    await create_rule(api, SUPER, "supers")
    clock, queue = SettableClock(await now(api)), RecordingTaskQueue()
    async with triggers(api.container, clock, queue) as t:
        clock.advance(45)
        running = await t.fire.execute()
        assert running is not None
    await create_rule(api, {"version": 4, "expr": {"fn": "has_capability", "args": {"name": "LOGIN"}}}, "login")
    async with triggers(api.container, clock, queue) as t:
        clock.advance(60)
        assert await t.fire.execute() is None
    (row,) = await api.rows(PENDING)
    assert row["value"] == int((clock.now() + timedelta(seconds=30)).timestamp() * 1000), "due again in 30 s"
    assert len(await api.rows("SELECT id FROM sync_sessions WHERE kind = 'classification'")) == 1


async def test_on_rule_change_off_requests_nothing(api: Api) -> None:
    async with running_api(make_settings(api.settings.data_dir, str(api.settings.database_url),
                                         WHALEFALL_CLASSIFICATION_ON_RULE_CHANGE="false"),
                           reuse_app=False) as quiet:
        await create_rule(quiet, SUPER, "supers")
        assert await quiet.rows(PENDING) == []
        assert len(await _events(quiet, "rule.create")) == 1, "the audit event is written either way"


async def _accounts_sync(api: Api, statuses: dict[int, str], pipeline_run_id: str | None = None) -> str:
    moment = await now(api)
    session_id = str(uuid.uuid4())
    async with api.container() as scope:
        uow = await scope.get(SqlAlchemyUnitOfWork)
        connection = await uow.connection()
        await connection.execute(insert(sync_sessions).values(
            id=session_id, kind="accounts_sync", scope="fleet", trigger="scheduled", status="partial",
            created_at=moment, started_at=moment, finished_at=moment, params={}, summary={},
            pipeline_run_id=pipeline_run_id, total=len(statuses)))
        await connection.execute(insert(sync_records), [
            {"session_id": session_id, "item_type": "instance", "item_key": str(i), "instance_id": i,
             "status": status, "counters": {}, "warnings": [], "details": {}} for i, status in statuses.items()])
        await uow.commit()
    return session_id


async def _session(api: Api, session_id: str) -> SessionView:
    async with api.container() as scope:
        found = await (await scope.get(SessionStore)).get(session_id)
        assert found is not None
        return found


async def test_defect_20_after_sync_starts_one_targeted_run_for_the_instances_that_synced(api: Api) -> None:
    await create_rule(api, SUPER, "supers")
    synced, failed = await mysql_instance(api, "m1"), await mysql_instance(api, "m2")
    finished = await _session(api, await _accounts_sync(api, {synced: "completed", failed: "failed"}))
    clock, queue = SettableClock(await now(api)), RecordingTaskQueue()
    async with triggers(api.container, clock, queue) as t:
        started = await t.after_sync.execute(finished)
    assert started is not None
    assert (started.kind, started.scope, started.params) == (
        SessionKind.CLASSIFICATION, SessionScope.TARGETED, {"instance_ids": [synced]})
    assert len(queue.enqueued) == 1
    (event,) = await _events(api, "session.start")
    details = _json(event["details"])
    assert (event["target_id"], details["reason"], details["accounts_sync_session_id"]) == (
        started.id, "after_sync", finished.id)

    in_pipeline = await _session(api, await _accounts_sync(api, {synced: "completed"}, str(uuid.uuid4())))
    async with triggers(api.container, clock, queue) as t:
        assert await t.after_sync.execute(in_pipeline) is None, "the pipeline classifies in its own step"
        assert await t.after_sync.execute(started) is None, "only accounts_sync sessions trigger"
    again = await _session(api, await _accounts_sync(api, {synced: "completed"}))
    async with triggers(api.container, clock, queue, TriggerSettings(after_sync=False)) as t:
        assert await t.after_sync.execute(again) is None, "classification.after_sync = false"
    async with triggers(api.container, clock, queue) as t:
        assert await t.after_sync.execute(again) is None, "an overlapping run is pending: postponed"
    assert await api.rows(PENDING) != [], "…to the debounced fleet run"
    assert len(await api.rows("SELECT id FROM sync_sessions WHERE kind = 'classification'")) == 1


async def test_the_after_sync_listener_is_registered_for_finalised_sessions(api: Api) -> None:
    listeners = await api.container.get(SessionFinalisedListeners)
    assert any(isinstance(listener, ClassifyAfterSyncListener) for listener in listeners.listeners)


async def test_writes_refused_with_409_leave_no_success_event_no_change_and_no_run_request(api: Api) -> None:
    """A 409 rolls back the change, its success event and its run request together (the `failure` event of such
    a write is written by the HTTP layer for every slice)."""
    op = await api.headers(Role.OPERATOR)
    listed = data_of(await api.client.get("/api/v1/classifications?limit=50", headers=op))["items"]
    system = next(c["id"] for c in listed if c["code"] == "super")
    error_of(await api.client.post("/api/v1/classifications", headers=op, json={
        "code": "super", "display_name": "Another"}), 409, "ALREADY_EXISTS")
    error_of(await api.client.delete(f"/api/v1/classifications/{system}", headers=op), 409, "RESOURCE_PROTECTED")
    assert await _events(api, "classification.") == []
    assert await api.rows(PENDING) == []
    assert await api.rows("SELECT id FROM classifications WHERE display_name = 'Another'") == []
    assert len(await api.rows("SELECT id FROM classifications WHERE is_system = true")) == 6


async def test_after_sync_falls_back_to_the_debounced_run_when_the_queue_is_down(api: Api) -> None:
    await create_rule(api, SUPER, "supers")
    async with api.container() as scope:  # forget the request of the rule write: only the fallback may add one
        uow = await scope.get(SqlAlchemyUnitOfWork)
        await (await uow.connection()).execute(text(
            "DELETE FROM classification_counters WHERE name = 'pending_fleet_run_ms'"))
        await uow.commit()
    assert await api.rows(PENDING) == []
    synced = await mysql_instance(api, "m1")
    finished = await _session(api, await _accounts_sync(api, {synced: "completed"}))
    clock, queue = SettableClock(await now(api)), RecordingTaskQueue()
    queue.available = False
    async with triggers(api.container, clock, queue) as t:
        assert await t.after_sync.execute(finished) is None
    assert await api.rows(PENDING) != []
    assert await api.rows("SELECT id FROM sync_sessions WHERE kind = 'classification'") == []


async def test_defect_20_a_finishing_accounts_sync_session_starts_classification_through_the_runner(
        api: Api) -> None:
    """End to end through the session runner: the last record of an accounts_sync session completes, the runner
    notifies the finalised listeners after its commit, and the wired listener opens the targeted run."""
    await create_rule(api, SUPER, "supers")
    queue = RecordingTaskQueue()
    container = make_container(api.settings, RecordingQueueProvider(queue))
    harness = Harness(await api.container.get(Database))
    try:
        harness.finalised = SessionFinalisedListeners((ClassifyAfterSyncListener(container),))
        instance = await mysql_instance(api, "m1")
        sync = await harness.open(SessionKind.ACCOUNTS_SYNC, instance_ids=[instance])
        (record,) = await harness.records(sync.id)
        await harness.run(record.id, ScriptedWork(), SessionKind.ACCOUNTS_SYNC)
    finally:
        await container.close()
    started = await api.rows("SELECT id, scope, params FROM sync_sessions WHERE kind = 'classification'")
    assert [(r["scope"], _json(r["params"])) for r in started] == [("targeted", {"instance_ids": [instance]})]
    assert len(queue.enqueued) == 1


async def test_only_the_scheduler_leader_fires_the_due_debounced_run(api: Api) -> None:
    await create_rule(api, SUPER, "supers")
    async with api.container() as scope:  # make the pending request due at once
        uow = await scope.get(SqlAlchemyUnitOfWork)
        await (await uow.connection()).execute(text(
            "UPDATE classification_counters SET value = 0 WHERE name = 'pending_fleet_run_ms'"))
        await uow.commit()
    queue = RecordingTaskQueue()
    container = make_container(api.settings, RecordingQueueProvider(queue))
    try:
        runtime = await build_runtime(container, process_id="wf_h4_scheduler")
        await runtime.fire_due_classification()
        assert await api.rows(PENDING) != [], "not the leader yet: nothing fired"
        await runtime.elector.step()
        assert runtime.elector.is_leader()
        await runtime.fire_due_classification()
        await runtime.elector.resign()
    finally:
        await container.close()
    assert await api.rows(PENDING) == []
    assert len(await api.rows("SELECT id FROM sync_sessions WHERE kind = 'classification'")) == 1
    assert len(queue.enqueued) == 1
