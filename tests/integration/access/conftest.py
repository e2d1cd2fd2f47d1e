"""The HTTP app with a movable clock and per-test settings, for the access-hardening tests (api.md §4.5–4.8)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

import pytest
from dishka import AsyncContainer, Provider, Scope, provide
from dishka.integrations.litestar import LitestarProvider
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Send
from litestar.types import Scope as AsgiScope

from tests.integration.redis.conftest import redis_client, redis_url
from tests.support.http_client import Api, bearer, data_of, make_settings
from tests.support.stores import Store
from whalefall.application.ports.clock import Clock
from whalefall.domain.identity.roles import Role
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.settings import Settings

__all__ = ["redis_client", "redis_url"]  # redis_client is a fixture, redis_url a helper

START: Final = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@dataclass
class MovableClock(Clock):
    at: datetime = START

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class ClockOverride(Provider):
    scope = Scope.APP

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self._clock = clock

    @provide(override=True)
    def clock(self) -> Clock:
        return self._clock


@dataclass
class AccessApi(Api):
    clock: MovableClock = field(default_factory=MovableClock)

    async def api_token(self, role: Role | str, scopes: list[str], *, name: str = "automation") -> str:
        """The plaintext of a new token of the role's user (created and logged in on first use)."""
        headers = await self.headers(role)
        response = await self.client.post("/api/v1/api-tokens", headers=headers, json={"name": name, "scopes": scopes})
        token: str = data_of(response)["token"]
        return token

    def as_api_token(self, token: str) -> dict[str, str]:
        return bearer(token)


_APPS: dict[tuple[object, ...], Litestar] = {}


def _app(settings: Settings, container: AsyncContainer, clock: Clock, *, fresh: bool = False) -> Litestar:
    """Apps are built once per settings variant (routing setup is slow) and get each test's container; `fresh`
    builds a separate app (two API processes in one test)."""
    if fresh:
        return create_app(container, settings, clock)
    key = (settings.api_docs, settings.cors_origins)
    if key not in _APPS:
        _APPS[key] = create_app(make_container(settings, HttpAuthProvider(), LitestarProvider()), settings, clock)
    app = _APPS[key]
    app.state.dishka_container = container
    app.state.clock = clock
    return app


@asynccontextmanager
async def access_running(settings: Settings, clock: MovableClock | None = None, *overrides: Provider,
                         fresh_app: bool = False) -> AsyncIterator[AccessApi]:
    moving = clock or MovableClock()
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), ClockOverride(moving), *overrides)
    try:
        app = _app(settings, container, moving, fresh=fresh_app)
        async with AsyncTestClient(app, raise_server_exceptions=False) as client:
            yield AccessApi(app=app, container=container, client=client, settings=settings, clock=moving)
    finally:
        await container.close()


AccessFactory = Callable[..., AbstractAsyncContextManager[AccessApi]]


@pytest.fixture
def access_factory(store: Store, tmp_path: Path) -> AccessFactory:
    """`async with access_factory(WHALEFALL_X="…") as api:` on the test's store, with extra settings."""

    def build(*overrides: Provider, fresh_app: bool = False, **extra: str) -> AbstractAsyncContextManager[AccessApi]:
        return access_running(make_settings(tmp_path / "data", store.url, **extra), None, *overrides,
                              fresh_app=fresh_app)

    return build


@pytest.fixture
async def access_api(access_factory: AccessFactory) -> AsyncIterator[AccessApi]:
    async with access_factory() as running:
        yield running


@contextmanager
def peers_from_header(app: Litestar) -> Iterator[None]:
    """Test-only: the socket peer is read from `X-Test-Peer`, since the test client always reports `testclient`."""
    original = app.asgi_handler

    async def handler(scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            peer = dict(scope["headers"]).get(b"x-test-peer")
            if peer is not None:
                scope = cast(AsgiScope, {**scope, "client": (peer.decode(), 50000)})
        await original(scope, receive, send)

    app.asgi_handler = handler
    try:
        yield
    finally:
        app.asgi_handler = original


def peer(address: str) -> dict[str, str]:
    return {"X-Test-Peer": address}


def cookie_header(token: str) -> dict[str, str]:
    """The session cookie sent by hand: test clients do not send `Secure` cookies over http."""
    return {"Cookie": f"whalefall_session={token}"}


def session_cookie_of(response: Any) -> str:
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == "whalefall_session":
            value: str = rest.split(";", 1)[0]
            return value
    raise AssertionError(f"no session cookie in {response.headers}")
