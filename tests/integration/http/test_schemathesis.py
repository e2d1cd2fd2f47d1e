"""Schemathesis over the whole OpenAPI document (api.md §1.1, §6 defect 36): every operation, a few generated
requests each, against the in-process ASGI app with an admin API token. Checks: no 5xx, and every documented
response matches its schema. Deterministic (derandomized Hypothesis), SQLite store.

Excluded operations (documented):
- `DELETE /api/v1/api-tokens/{token_id}`: a generated id may name the very token the run authenticates with, after
  which every later request is a (correct) 401.

No worker runs here: queued actions go to recording queues (the in-memory broker of an API-only container has no
tasks registered and answers 503)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import schemathesis
from dishka import Provider, Scope, provide
from dishka.integrations.litestar import LitestarProvider
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fakes.operations import RecordingAdvanceQueue
from tests.fakes.sessions import RecordingTaskQueue
from tests.support.http_client import PASSWORD, make_settings
from tests.support.stores import sqlite_url
from whalefall.adapters.clock import SystemClock
from whalefall.application.identity.api_tokens import CreateApiToken, CreateApiTokenInput
from whalefall.application.identity.create_user import CreateUser, CreateUserInput
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.shared.actor import Actor, AuthMethod
from whalefall.domain.identity.roles import Permission, Role
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.settings import Settings

OPENAPI = "/api/v1/schema/openapi.json"
MAX_EXAMPLES = 10


class RecordingQueues(Provider):
    scope = Scope.APP

    @provide(override=True)
    def task_queue(self) -> TaskQueue:
        return RecordingTaskQueue()

    @provide(override=True)
    def advance_queue(self) -> PipelineAdvanceQueue:
        return RecordingAdvanceQueue()


async def _admin_token(settings: Settings) -> str:
    """An admin and an API token holding every permission, written with a short-lived container of its own (the
    app's container must only ever run on schemathesis' event loop)."""
    container = make_container(settings, HttpAuthProvider(), LitestarProvider())
    try:
        async with container() as scope:
            admin = await (await scope.get(CreateUser)).execute(CreateUserInput(
                actor=Actor.system(), username="fuzz-admin", password=PASSWORD, role=Role.ADMIN,
                must_change_password=False))
        async with container() as scope:
            actor = Actor.for_user(user_id=admin.id, username=admin.username, role=Role.ADMIN,
                                   auth_method=AuthMethod.ACCESS_TOKEN)
            created = await (await scope.get(CreateApiToken)).execute(CreateApiTokenInput(
                actor=actor, name="schemathesis", scopes=sorted(Permission)))
        return created.plaintext
    finally:
        await container.close()


def _failures(loaded: Any, token: str) -> list[str]:
    """Run every operation's strategy through Hypothesis; one line per failing operation (all are collected)."""
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    for result in loaded.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error, response_schema_conformance])

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every failing operation is reported, not only the first
            failures.append(f"{operation.label}: {str(exc).strip()[:2000]}")
    return failures


def test_api_conforms_to_its_openapi_document(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "whalefall.db")
    # One token sends every generated case: without this the per-principal limits (api.md §4.8, tested in
    # tests/integration/access/test_request_limits.py) would answer 429 to most of them and hide the handlers.
    unlimited = {f"WHALEFALL_RATELIMIT_{name}": "0"
                 for name in ("REQUEST", "EXPORT", "RULE_EVALUATION", "CONNECTION_TEST", "PASSWORD_CHANGE")}
    app_settings = make_settings(tmp_path / "data", sqlite_url(tmp_path / "whalefall.db"), **unlimited)
    token = asyncio.run(_admin_token(app_settings))
    container = make_container(app_settings, HttpAuthProvider(), LitestarProvider(), RecordingQueues())
    app = create_app(container, app_settings, SystemClock())
    loaded = (schemathesis.openapi.from_asgi(OPENAPI, app)
              .exclude(method="DELETE", path="/api/v1/api-tokens/{token_id}"))
    try:
        failures = _failures(loaded, token)
    finally:
        # The app and its container ran on schemathesis' event-loop thread (its private portal); close it there.
        asgi._get_portal().call(container.close)
    assert failures == [], "\n\n".join(failures)
