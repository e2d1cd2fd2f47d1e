"""`whalefall serve`: the HTTP API (embedded mode also migrates the store on start)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
import uvicorn
from dishka.integrations.litestar import LitestarProvider
from dishka.integrations.taskiq import TaskiqProvider
from rich.console import Console

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.security import AccessTokenCodec, SecretCipher
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.di.messaging import WorkerId
from whalefall.entrypoints.di.runtime import setup_logging, start_log_sink, stop_log_sink, upgrade_store
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.scheduler.app import embedded_scheduler
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker
from whalefall.entrypoints.worker.heartbeat import heartbeats

NO_USER_HINT = "No user exists yet. Create the first admin with: whalefall users create-admin"


async def serve(host: str, port: int) -> None:
    settings = Settings.from_environ()
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), WorkerProvider(), TaskiqProvider())
    try:
        await setup_logging(container, settings, process="api")
        # Load both keyrings now: a missing or insecure key file must stop the start, not the first request.
        await container.get(SecretCipher)
        await container.get(AccessTokenCodec)
        if settings.embedded:
            await upgrade_store(container)
        await start_log_sink(container)
        async with container() as request_scope:
            users = await request_scope.get(UserRepository)
            if await users.count() == 0:
                Console(stderr=True).print(NO_USER_HINT)
        app = create_app(container, settings, await container.get(Clock))
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
        server = uvicorn.Server(config)
        # Without Redis the in-memory broker's worker and the reaper run in this event loop (operations §0).
        # Embedded mode also runs the scheduler here, always the leader (in-memory locks); every mode seeds the
        # built-in jobs and pipeline where absent.
        async with (embedded_worker(container), embedded_scheduler(container, run=settings.embedded),
                    heartbeats(container, f"{await container.get(WorkerId)}:api", kind="api")):
            await server.serve()
    finally:
        await stop_log_sink(container)
        await container.close()


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on", min=1, max=65535)] = 8000,
) -> None:
    """Run the HTTP API (embedded mode: SQLite store in the data directory, migrated on start)."""
    asyncio.run(serve(host, port))
