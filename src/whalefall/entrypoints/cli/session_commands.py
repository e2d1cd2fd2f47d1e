"""What the commands that queue a session share (`sync accounts`, `capacity collect|refresh-tables`): name → id,
start, and follow the session (in process with an embedded worker when there is no Redis)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from whalefall.application.instances.instance_queries import ListInstances
from whalefall.application.ports.instances import InstanceQuery
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.queries import GetSession
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.errors import NotFoundError
from whalefall.domain.sessions.sessions import SessionStatus
from whalefall.entrypoints.cli.common import app_container, err_console
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.messaging import broker_url
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker

ACTOR: Final = Actor.system("cli")
#: Poll interval while following: a remote worker reports at its own pace; the embedded one finishes fast.
REMOTE_POLL_S: Final = 1.0
EMBEDDED_POLL_S: Final = 0.2

Start = Callable[[AsyncContainer], Awaitable[SessionView]]
#: (container, session id, interval_s, timeout_s) → the session when it ended or the timeout passed.
Follow = Callable[[AsyncContainer, str, float, float], Awaitable[SessionView]]


async def instance_id_by_name(container: AsyncContainer, name: str) -> int:
    """The live instance named `name` (case-insensitively, as names are unique); unknown → NotFoundError."""
    async with container() as scope:
        use_case = await scope.get(ListInstances)
        page = await use_case.execute(ACTOR, InstanceQuery(q=name), PageRequest(1, 200, (SortKey("name"),)))
    match = next((i for i in page.items if i.name.lower() == name.lower()), None)
    if match is None:
        raise NotFoundError("instance", name)
    return int(match.id)


async def start_and_follow(start: Start, follow: Follow, *, wait: bool, timeout_s: float
                           ) -> tuple[SessionView, bool]:
    """The started session (followed to its end when `wait`) and whether it was followed. Without Redis no other
    process can take the task, so this process runs the embedded worker and always follows the session to its end
    (otherwise the in-memory queue would die with the command)."""
    settings = Settings.from_environ()
    if broker_url(settings) is not None:
        async with app_container(settings) as container:
            session = await start(container)
            if not wait:
                return session, False
            return await follow(container, session.id, REMOTE_POLL_S, timeout_s), True
    container = make_container(settings, WorkerProvider(), TaskiqProvider())
    try:
        async with embedded_worker(container):
            session = await start(container)
            return await follow(container, session.id, EMBEDDED_POLL_S, timeout_s), True
    finally:
        await container.close()


def progress_follower(label: str) -> Follow:
    """A Follow that polls the session under a progress bar on stderr (`label`, done/total, status)."""

    async def follow(container: AsyncContainer, session_id: str, interval_s: float, timeout_s: float
                     ) -> SessionView:
        deadline = time.monotonic() + timeout_s
        with Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[status]}"), TimeElapsedColumn(), console=err_console) as progress:
            task = progress.add_task(label, total=None, status="running")
            while True:
                async with container() as scope:
                    session = (await (await scope.get(GetSession)).execute(ACTOR, session_id)).session
                done = session.succeeded + session.failed + session.skipped + session.cancelled
                progress.update(task, total=session.total, completed=done,
                                status=f"{session.status.value} (failed {session.failed})")
                if session.status is not SessionStatus.RUNNING or time.monotonic() > deadline:
                    return session
                await asyncio.sleep(interval_s)

    return follow
