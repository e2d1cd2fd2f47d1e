"""POST /credentials/actions/rotate-keys (api.md §3.6): a `credential_rotation` session run by the embedded worker
re-encrypts every secret with the active key; secrets stay readable; viewers and operators are refused."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dishka.integrations.litestar import LitestarProvider
from dishka.integrations.taskiq import TaskiqProvider
from litestar.testing import AsyncTestClient

from tests.support.http_client import SECRET_KEY, Api, data_of, error_of, make_settings
from tests.support.stores import Store
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import CredentialRepository
from whalefall.application.ports.security import SecretCipher, credential_associated_data
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import CredentialId
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.http.app import create_app
from whalefall.entrypoints.http.auth import HttpAuthProvider
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker

SECOND_KEY = "k2:" + base64.urlsafe_b64encode(bytes(range(50, 82))).decode().rstrip("=")


@asynccontextmanager
async def served(store: Store, tmp_path: Path, **extra: str) -> AsyncIterator[Api]:
    settings = make_settings(tmp_path / "data", store.url, **extra)
    container = make_container(settings, HttpAuthProvider(), LitestarProvider(), WorkerProvider(), TaskiqProvider())
    try:
        app = create_app(container, settings, await container.get(Clock))
        async with embedded_worker(container), AsyncTestClient(app, raise_server_exceptions=False) as client:
            yield Api(app=app, container=container, client=client, settings=settings)
    finally:
        await container.close()


async def admin_headers(api: Api) -> dict[str, str]:
    """The admin created by the first app of a test (a second app over the same store logs in again)."""
    return {"Authorization": f"Bearer {(await api.login('admin-user'))['access_token']}"}


async def finished(api: Api, session_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(200):
        session = data_of(await api.client.get(f"/api/v1/sync-sessions/{session_id}", headers=headers))
        if session["status"] != "running":
            return session
        await asyncio.sleep(0.05)
    raise AssertionError(f"session {session_id} did not finish")


async def test_a_queued_rotation_reencrypts_every_secret_with_the_active_key(store: Store, tmp_path: Path) -> None:
    async with served(store, tmp_path) as api:
        headers = await api.headers(Role.ADMIN)
        ids = [data_of(await api.client.post("/api/v1/credentials", headers=headers, json={
            "name": f"wf-rot-{n}", "username": "collector", "secret": f"s3cret-{n}", "db_type": "postgresql"}))["id"]
            for n in range(3)]
    # The operator adds k2 to the keyring and makes it active; k1 stays so old ciphertexts remain readable.
    async with served(store, tmp_path, WHALEFALL_SECRET_KEY=f"{SECRET_KEY},{SECOND_KEY}",
                      WHALEFALL_SECRET_KEY_ACTIVE_ID="k2") as api:
        headers = await admin_headers(api)
        response = await api.client.post("/api/v1/credentials/actions/rotate-keys", headers=headers)
        assert response.status_code == 202, response.text
        receipt = data_of(response)
        session = await finished(api, receipt["session_id"], headers)
        assert (session["kind"], session["status"]) == ("credential_rotation", "completed")
        assert session["counters"]["succeeded"] == 1
        for credential_id in ids:
            detail = data_of(await api.client.get(f"/api/v1/credentials/{credential_id}", headers=headers))
            assert detail["key_id"] == "k2" and "secret" not in detail
        async with api.container() as scope:
            repository = await scope.get(CredentialRepository)
            cipher = await scope.get(SecretCipher)
            for n, credential_id in enumerate(ids):
                stored = await repository.get_secret(CredentialId(credential_id))
                assert stored is not None
                plaintext = cipher.decrypt(stored, associated_data=credential_associated_data(
                    CredentialId(credential_id)))
                assert plaintext.reveal() == f"s3cret-{n}"
        audit = await api.rows("SELECT details FROM audit_events WHERE action = 'credential.rotate_keys'")
        assert len(audit) == 1 and "rotated" in str(audit[0]["details"])
        again = data_of(await api.client.post("/api/v1/credentials/actions/rotate-keys", headers=headers))
        repeat = await finished(api, again["session_id"], headers)
        assert repeat["status"] == "completed", "a second rotation finds nothing to do and still completes"


async def test_only_system_managers_may_queue_a_rotation(store: Store, tmp_path: Path) -> None:
    async with served(store, tmp_path) as api:
        for role in (Role.VIEWER, Role.OPERATOR, Role.AUDITOR):
            response = await api.client.post("/api/v1/credentials/actions/rotate-keys",
                                             headers=await api.headers(role))
            error_of(response, 403, "PERMISSION_DENIED")
        response = await api.client.post("/api/v1/credentials/actions/rotate-keys",
                                         headers=await api.headers(Role.ADMIN), json={"unexpected": 1})
        error_of(response, 400, "VALIDATION_ERROR")
        assert await api.rows("SELECT id FROM sync_sessions WHERE kind = 'credential_rotation'") == []
