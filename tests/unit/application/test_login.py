"""The login use case with fakes: one verification whatever happens (api.md §6 defect 13), audit, tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from tests.fakes.identity import (
    CountingTokenGenerator,
    FakeUnitOfWork,
    FixedClock,
    InMemoryRefreshTokenRepository,
    InMemoryUserRepository,
    PlainAccessTokenCodec,
    RecordingAuditLog,
    RecordingPasswordHasher,
)
from whalefall.application.errors import AccountDisabledError, InvalidCredentialsError
from whalefall.application.identity.login import Login, LoginInput
from whalefall.application.identity.token_pairs import TokenPairIssuer
from whalefall.application.ports.audit import AuditOutcome
from whalefall.application.shared.actor import Actor, ActorType
from whalefall.domain.identity.roles import Role

PASSWORD = "Correct-Horse-Battery-9"
ORIGIN = Actor(actor_type=ActorType.USER, name="anonymous", request_id="req-1", client_ip="10.0.0.1")


@dataclass
class World:
    users: InMemoryUserRepository = field(default_factory=InMemoryUserRepository)
    hasher: RecordingPasswordHasher = field(default_factory=RecordingPasswordHasher)
    refresh: InMemoryRefreshTokenRepository = field(default_factory=InMemoryRefreshTokenRepository)
    audit: RecordingAuditLog = field(default_factory=RecordingAuditLog)
    uow: FakeUnitOfWork = field(default_factory=FakeUnitOfWork)
    clock: FixedClock = field(default_factory=FixedClock)

    def login(self) -> Login:
        issuer = TokenPairIssuer(PlainAccessTokenCodec(), CountingTokenGenerator(), self.refresh,
                                 timedelta(minutes=10))
        return Login(self.users, self.hasher, issuer, self.audit, self.clock, self.uow)

    async def add_user(self, username: str, *, is_active: bool = True, deleted: bool = False) -> int:
        user_id = await self.users.add({
            "username": username, "role": Role.VIEWER.value, "password_hash": self.hasher.hash(PASSWORD),
            "is_active": is_active, "must_change_password": False, "security_stamp": "stamp",
            "deleted_at": self.clock.now() if deleted else None}, at=self.clock.now())
        return int(user_id)


@pytest.fixture
async def world() -> World:
    w = World()
    await w.add_user("alice")
    return w


@pytest.mark.parametrize(("username", "password"), [
    ("nobody", PASSWORD),          # unknown user
    ("alice", "wrong-password"),   # wrong password
    ("ghost", PASSWORD),           # deleted user (added below)
])
async def test_every_failure_costs_exactly_one_verification(world: World, username: str, password: str) -> None:
    await world.add_user("ghost", deleted=True)
    with pytest.raises(InvalidCredentialsError):
        await world.login().execute(LoginInput(username=username, password=password, origin=ORIGIN))
    assert len(world.hasher.verified) == 1
    if username != "alice":
        assert world.hasher.verified == [None]  # checked against the dummy hash, not skipped
    [entry] = world.audit.entries
    assert (entry.action, entry.outcome, entry.details) == (
        "auth.login.failure", AuditOutcome.FAILURE, {"reason": "bad_credentials"})
    assert entry.actor.request_id == "req-1" and world.refresh.rows == []


async def test_success_costs_one_verification_updates_last_login_and_starts_a_family(world: World) -> None:
    pair = await world.login().execute(LoginInput(username="ALICE", password=PASSWORD, origin=ORIGIN))
    assert len(world.hasher.verified) == 1
    assert pair.user.last_login_at == world.clock.now()
    assert pair.expires_at == world.clock.now() + timedelta(minutes=10)
    [token] = world.refresh.rows
    assert token.user_id == pair.user.id and token.used_at is None
    assert [(e.action, e.outcome) for e in world.audit.entries] == [("auth.login.success", AuditOutcome.SUCCESS)]
    assert world.uow.commits == 1


async def test_disabled_user_is_reported_after_one_verification(world: World) -> None:
    await world.add_user("carol", is_active=False)
    with pytest.raises(AccountDisabledError):
        await world.login().execute(LoginInput(username="carol", password=PASSWORD, origin=ORIGIN))
    assert len(world.hasher.verified) == 1
    assert world.audit.entries[0].details == {"reason": "disabled"}
    assert world.refresh.rows == []
