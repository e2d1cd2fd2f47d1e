"""The HTTP app as `whalefall serve` builds it, on a scratch store, with Litestar's async test client, plus helpers
to create users of each role and log them in."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from dishka import AsyncContainer
from dishka.integrations.litestar import LitestarProvider
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from whalefall.adapters.persistence.engine import Database
from whalefall.application.identity.create_user import CreateUser, CreateUserInput
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Role
from whalefall.domain.identity.users import User
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.settings import Settings

PASSWORD: Final = "Correct-Horse-Battery-9"
SECRET_KEY: Final = "k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
JWT_KEYS: Final = "j1:" + base64.urlsafe_b64encode(bytes(range(100, 132))).decode().rstrip("=")


def environ_for(data_dir: Path, database_url: str, **extra: str) -> dict[str, str]:
    """WHALEFALL_* variables for a test process: scratch store, explicit keys, cheap argon2."""
    environ = {
        "WHALEFALL_DATA_DIR": str(data_dir),
        "WHALEFALL_DATABASE_URL": database_url,
        "WHALEFALL_SECRET_KEY": SECRET_KEY,
        "WHALEFALL_JWT_KEYS": JWT_KEYS,
        "WHALEFALL_AUTH_ARGON2_TIME_COST": "1",
        "WHALEFALL_AUTH_ARGON2_MEMORY_KIB": "8",
        "WHALEFALL_AUTH_ARGON2_PARALLELISM": "1",
        "WHALEFALL_API_DOCS": "public",
    }
    environ.update(extra)
    return environ


def make_settings(data_dir: Path, database_url: str, **extra: str) -> Settings:
    return Settings.from_environ(environ_for(data_dir, database_url, **extra))


@dataclass
class Api:
    """The running app, its container and a client; remembers one logged-in user per role."""

    app: Litestar
    container: AsyncContainer
    client: AsyncTestClient[Litestar]
    settings: Settings
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def create_user(self, username: str, role: Role, *, password: str = PASSWORD,
                          must_change_password: bool = False, is_active: bool = True) -> User:
        async with self.container() as scope:
            use_case = await scope.get(CreateUser)
            return await use_case.execute(CreateUserInput(
                actor=Actor.system(), username=username, password=password, role=role,
                must_change_password=must_change_password, is_active=is_active))

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, Any]:
        """The login `data` (tokens and user); asserts success."""
        response = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        return data

    async def headers(self, role: Role | str) -> dict[str, str]:
        """Bearer headers of a user with that role (created and logged in on first use; name = role)."""
        name = str(role)
        if name not in self.tokens:
            self.users[name] = await self.create_user(f"{name}-user", Role(name))
            self.tokens[name] = await self.login(f"{name}-user")
        return bearer(self.tokens[name]["access_token"])

    def user(self, role: Role | str) -> User:
        return self.users[str(role)]

    async def rows(self, statement: str, **params: object) -> list[dict[str, Any]]:
        """Rows of a raw SQL query against the app's metadata store (to check stored state)."""
        database = await self.container.get(Database)
        async with database.connect() as connection:
            result = await connection.execute(text(statement), params)
            return [dict(row) for row in result.mappings()]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: Building the Litestar app (route registration of every controller) costs over a second, so apps are built once
#: per settings variant and reused; each test gets a fresh container (hence a fresh store) swapped into the app's
#: state, which is where dishka's request middleware looks it up on every request.
_APPS: dict[tuple[object, ...], Litestar] = {}


def _app_for(settings: Settings, container: AsyncContainer, clock: Clock, *, reuse: bool) -> Litestar:
    if not reuse:
        return create_app(container, settings, clock)
    key = (settings.api_docs, settings.cors_origins, settings.get("metrics.public", False))
    if key not in _APPS:
        _APPS[key] = create_app(make_container(settings, HttpAuthProvider(), LitestarProvider()), settings, clock)
    app = _APPS[key]
    app.state.dishka_container = container
    return app


@asynccontextmanager
async def running_api(settings: Settings, *, reuse_app: bool = True) -> AsyncIterator[Api]:
    """The container and app as `whalefall serve` builds them, with an AsyncTestClient on it (server exceptions
    become 500 answers, as in production)."""
    container = make_container(settings, HttpAuthProvider(), LitestarProvider())
    try:
        app = _app_for(settings, container, await container.get(Clock), reuse=reuse_app)
        async with AsyncTestClient(app, raise_server_exceptions=False) as client:
            yield Api(app=app, container=container, client=client, settings=settings)
    finally:
        await container.close()


def data_of(response: Any) -> Any:
    """The `data` of a success envelope; fails with the body when the response is an error."""
    assert response.status_code < 400, f"{response.status_code}: {response.text}"
    body: Mapping[str, Any] = response.json()
    assert body["success"] is True and body["error"] is False
    return body["data"]


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error body, asserting status and code."""
    assert response.status_code == status, f"expected {status} {code}, got {response.status_code}: {response.text}"
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body
