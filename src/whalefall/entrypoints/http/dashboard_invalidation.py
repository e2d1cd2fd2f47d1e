"""Drops cached dashboard sections once a write request has committed (operations.md §7 "after commit")."""

from __future__ import annotations

from typing import Final

from litestar.types import Message, Scope

from whalefall.application.dashboard.read_dashboard import invalidate_sections
from whalefall.application.ports.cache import Cache

UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Path prefix of a write → the sections its data feeds. The use case has committed when the response starts.
#: Instance writes feed every section that counts instances (deleted instances leave the totals at once).
INVALIDATES: Final = (
    ("/api/v1/instances", ("instances", "connectivity", "accounts", "databases", "capacity", "growth", "trends")),
    ("/api/v1/classifications", ("accounts",)),
    ("/api/v1/rules", ("accounts",)),
    ("/api/v1/classification-assignments", ("accounts",)),
    ("/api/v1/scheduler", ("jobs",)),
    ("/api/v1/pipelines", ("jobs", "runs")),
    ("/api/v1/pipeline-runs", ("jobs", "runs")),
    ("/api/v1/sync-sessions", ("jobs", "runs", "trends")),
)
#: A 202 answer created a session or a pipeline run (api.md §1.13): the run counts and the trend change.
QUEUED: Final = ("runs", "trends")


async def invalidate_dashboard(message: Message, scope: Scope) -> None:
    """`before_send` hook: on the start of a successful (< 400) answer to a write, invalidate the sections."""
    if message["type"] != "http.response.start" or message["status"] >= 400:
        return
    if scope.get("method") not in UNSAFE:
        return
    path = scope.get("path", "")
    sections = {s for prefix, names in INVALIDATES if path.startswith(prefix) for s in names}
    if message["status"] == 202:
        sections.update(QUEUED)
    if not sections:
        return
    container = scope["litestar_app"].state.dishka_container
    await invalidate_sections(await container.get(Cache), sorted(sections))
