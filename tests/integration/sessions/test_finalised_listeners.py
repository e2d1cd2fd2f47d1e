"""Every path that can make a session terminal tells the listeners once, after its commit, with the final state."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.fakes.sessions import ScriptedWork
from tests.integration.sessions.harness import Harness
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.cancel_session import CancelSession
from whalefall.application.sessions.finalised import SessionFinalisedListeners
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.identity.roles import Permission
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus


@dataclass
class Seen:
    sessions: list[SessionView] = field(default_factory=list)

    async def session_finalised(self, session: SessionView) -> None:
        self.sessions.append(session)


@dataclass
class Broken:
    async def session_finalised(self, session: SessionView) -> None:
        raise RuntimeError("listener down")


def listen(harness: Harness) -> Seen:
    seen = Seen()
    harness.finalised = SessionFinalisedListeners((Broken(), seen))
    return seen


async def test_the_last_completed_record_notifies_once_with_the_terminal_session(harness: Harness) -> None:
    seen = listen(harness)
    session = await harness.open(items=2)
    first, second = await harness.records(session.id)
    await harness.run(first.id, ScriptedWork())
    assert seen.sessions == [], "a session with an open record is not terminal"
    await harness.run(second.id, ScriptedWork())
    assert [(s.id, s.status, s.succeeded) for s in seen.sessions] == [(session.id, SessionStatus.COMPLETED, 2)]


async def test_a_record_skipped_at_claim_can_finalise_and_notify(harness: Harness) -> None:
    seen = listen(harness)
    instance_id = await harness.add_instance("gone", deleted=True)
    session = await harness.open(SessionKind.ACCOUNTS_SYNC, instance_ids=[instance_id])
    (record,) = await harness.records(session.id)
    await harness.run(record.id, ScriptedWork(), SessionKind.ACCOUNTS_SYNC)
    assert [(s.status, s.skipped) for s in seen.sessions] == [(SessionStatus.COMPLETED, 1)]


async def test_the_reaper_notifies_sessions_it_finalised(harness: Harness) -> None:
    seen = listen(harness)
    session = await harness.open(items=1)
    (record,) = await harness.records(session.id)
    async with harness.unit() as (store, uow):
        await store.claim(record.id, worker_id="killed", lease_ttl_s=60, now=harness.clock.now())
        await uow.commit()
    harness.clock.advance(200)
    await harness.reap()
    assert [(s.id, s.status) for s in seen.sessions] == [(session.id, SessionStatus.FAILED)]


async def test_cancelling_an_idle_session_notifies(harness: Harness) -> None:
    seen = listen(harness)
    session = await harness.open(items=2)
    actor = Actor(actor_type=ActorType.USER, name="ops", user_id=None, permissions=frozenset({Permission.SYNC_RUN}))
    async with harness.unit() as (store, uow):
        view = await CancelSession(store, uow, harness.clock, harness.finalised).execute(actor, session.id)
    assert view.status is SessionStatus.CANCELLED
    assert [(s.id, s.status, s.cancelled) for s in seen.sessions] == [(session.id, SessionStatus.CANCELLED, 2)]
    assert {r.status for r in await harness.records(session.id)} == {RecordStatus.CANCELLED}
