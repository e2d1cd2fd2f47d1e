"""Fixtures of the scheduler and pipeline tests: a container on each kind of store whose clock, session launcher
and queues are test doubles, and the HTTP app built the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from dishka import AsyncContainer, Provider, Scope, provide
from dishka.integrations.litestar import LitestarProvider
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from tests.fakes.operations import FakeSessionLauncher, RecordingAdvanceQueue
from tests.fakes.sessions import RecordingTaskQueue, SettableClock
from tests.support.http_client import Api, make_settings
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.scheduler import SessionLauncher
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.scheduler.builtins import EnsureBuiltins
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.settings import Settings

T = TypeVar("T")


class Doubles(Provider):
    """Test doubles replacing the clock, the queues and (unless `real_sessions`) the session launcher."""

    def __init__(self, env: Env, *, real_sessions: bool) -> None:
        super().__init__()
        self._env = env
        if not real_sessions:
            self.provide(lambda: env.launcher, provides=SessionLauncher, scope=Scope.REQUEST, override=True)

    @provide(scope=Scope.APP, override=True)
    def clock(self) -> Clock:
        return self._env.clock

    @provide(scope=Scope.APP, override=True)
    def advance_queue(self) -> PipelineAdvanceQueue:
        return self._env.advance_queue

    @provide(scope=Scope.APP, override=True)
    def task_queue(self) -> TaskQueue:
        return self._env.task_queue


@dataclass
class Env:
    """One test's world: settings on a store, the doubles, and helpers to run use cases and read rows."""

    settings: Settings
    clock: SettableClock
    launcher: FakeSessionLauncher
    advance_queue: RecordingAdvanceQueue
    task_queue: RecordingTaskQueue

    def container(self, *extra: Provider, real_sessions: bool = False) -> AsyncContainer:
        return make_container(self.settings, Doubles(self, real_sessions=real_sessions), *extra)

    async def run(self, container: AsyncContainer, use_case: type[T], *args: Any, **kwargs: Any) -> Any:
        async with container() as scope:
            instance: Any = await scope.get(use_case)
            return await instance.execute(*args, **kwargs)

    async def rows(self, container: AsyncContainer, statement: str, **params: object) -> list[dict[str, Any]]:
        database = await container.get(Database)
        async with database.connect() as connection:
            return [dict(r) for r in (await connection.execute(text(statement), params)).mappings()]

    @asynccontextmanager
    async def api(self, *, real_sessions: bool = False) -> AsyncIterator[Api]:
        container = self.container(HttpAuthProvider(), LitestarProvider(), real_sessions=real_sessions)
        try:
            await self.run(container, EnsureBuiltins)  # what every process does at start-up
            app = create_app(container, self.settings, self.clock)
            async with AsyncTestClient(app, raise_server_exceptions=False) as client:
                yield Api(app=app, container=container, client=client, settings=self.settings)
        finally:
            await container.close()


@pytest.fixture
def env(store: Store, tmp_path: Path) -> Env:
    return Env(settings=make_settings(tmp_path / "data", store.url), clock=SettableClock(),
               launcher=FakeSessionLauncher(), advance_queue=RecordingAdvanceQueue(),
               task_queue=RecordingTaskQueue())
