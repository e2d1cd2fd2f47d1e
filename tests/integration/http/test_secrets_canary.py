"""No password or secret ever reaches a response body or a log line (api.md §4.10; capacity.md §1.2)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from tests.support.http_client import Api, bearer, data_of
from whalefall.adapters.observability.logging_setup import configure_logging, reset_logging
from whalefall.domain.identity.roles import Role
from whalefall.domain.logs.redaction import Redactor

CANARY_PASSWORD = "Canary-Pw-7f3a9e1c5b"
CANARY_SECOND = "Canary-Pw2-0d4e8b6a2c"
CANARY_TEMP = "Canary-Tmp-91ab33cd77"
CANARY_SECRET = "Canary-Secret-c0ffee1234"
CANARY_SECRET_NEW = "Canary-Secret2-deadbeef99"
CANARIES = (CANARY_PASSWORD, CANARY_SECOND, CANARY_TEMP, CANARY_SECRET, CANARY_SECRET_NEW)


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    reset_logging()


async def test_a_scenario_with_users_logins_and_credentials_leaks_no_secret(api: Api, log_stream: io.StringIO) -> None:
    configure_logging(level="DEBUG", redactor=await api.container.get(Redactor), process="api", stream=log_stream)
    admin = await api.headers(Role.ADMIN)
    bodies: list[str] = []

    async def call(method: str, path: str, **kwargs: object) -> object:
        response = await api.client.request(method, path, **kwargs)  # type: ignore[arg-type]
        bodies.append(response.text)
        bodies.append(json.dumps(dict(response.headers)))
        return response

    created = await call("POST", "/api/v1/users", headers=admin, json={
        "username": "songbird", "role": "operator", "password": CANARY_PASSWORD, "must_change_password": False})
    user_id = data_of(created)["id"]
    # A policy violation and a wrong login must not echo the attempted value.
    await call("POST", "/api/v1/users", headers=admin, json={
        "username": "finch", "role": "viewer", "password": "finch" + CANARY_SECOND[:5]})
    await call("POST", "/api/v1/auth/login", json={"username": "songbird", "password": CANARY_SECOND})
    await call("POST", "/api/v1/auth/login", json={"username": "ghost", "password": CANARY_PASSWORD})
    login = await call("POST", "/api/v1/auth/login", json={"username": "songbird", "password": CANARY_PASSWORD})
    headers = bearer(data_of(login)["access_token"])
    await call("POST", "/api/v1/auth/password", headers=headers,
               json={"current_password": CANARY_SECOND, "new_password": CANARY_SECOND})
    await call("POST", "/api/v1/auth/password", headers=headers,
               json={"current_password": CANARY_PASSWORD, "new_password": CANARY_SECOND})
    await call("POST", f"/api/v1/users/{user_id}/actions/reset-password", headers=admin,
               json={"new_password": CANARY_TEMP})
    await call("PATCH", f"/api/v1/users/{user_id}", headers=admin, json={"password": CANARY_PASSWORD})
    operator = bearer(data_of(await call("POST", "/api/v1/auth/login",
                                         json={"username": "songbird", "password": CANARY_TEMP}))["access_token"])
    await call("POST", "/api/v1/auth/password", headers=operator,
               json={"current_password": CANARY_TEMP, "new_password": CANARY_PASSWORD})
    credential = await call("POST", "/api/v1/credentials", headers=admin,
                            json={"name": "canary-cred", "username": "app", "secret": CANARY_SECRET})
    credential_id = data_of(credential)["id"]
    await call("PATCH", f"/api/v1/credentials/{credential_id}", headers=admin, json={"secret": CANARY_SECRET_NEW})
    await call("PUT", f"/api/v1/credentials/{credential_id}/secret", headers=admin, json={"secret": CANARY_SECRET_NEW})
    await call("POST", "/api/v1/credentials", headers=admin,
               json={"name": " bad name", "username": "app", "secret": CANARY_SECRET, "unknown": CANARY_SECRET})
    await call("PUT", f"/api/v1/credentials/{credential_id}/secret", headers=admin,
               json={"secret": CANARY_SECRET + "\x00"})
    for path in ("/api/v1/credentials", f"/api/v1/credentials/{credential_id}", "/api/v1/users",
                 f"/api/v1/users/{user_id}"):
        await call("GET", path, headers=admin)

    assert len(bodies) == 2 * 20
    logged = log_stream.getvalue()
    assert len(logged.splitlines()) >= 20  # the stream really captured the run (one line per request at least)
    for canary in CANARIES:
        assert all(canary not in body for body in bodies), canary
        assert canary not in logged, canary
    audit = json.dumps(await api.rows("SELECT changes, details, actor_name FROM audit_events"), default=str)
    for canary in CANARIES:
        assert canary not in audit
    # The stored secret is the new one: the scenario really exercised the secret routes.
    [row] = await api.rows("SELECT key_id FROM credentials WHERE id = :id", id=credential_id)
    assert row["key_id"] == "k1"


async def test_a_logged_failure_does_not_carry_the_secret(api: Api, log_stream: io.StringIO,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected error while handling a secret is logged (with the request id), redacted."""
    from whalefall.application.instances.credentials import CreateCredential

    configure_logging(level="INFO", redactor=await api.container.get(Redactor), process="api", stream=log_stream)

    async def explode(self: object, data: object) -> None:
        raise RuntimeError(f"driver said: postgresql://app:{CANARY_SECRET}@db/x")

    monkeypatch.setattr(CreateCredential, "execute", explode)
    response = await api.client.post("/api/v1/credentials", headers=await api.headers(Role.ADMIN),
                                     json={"name": "c", "username": "u", "secret": CANARY_SECRET})
    assert response.status_code == 500
    lines = [json.loads(line) for line in log_stream.getvalue().splitlines()]
    failure = [line for line in lines if line.get("event") == "http.unhandled_error"]
    assert failure and failure[0]["request_id"] == response.json()["request_id"]
    assert CANARY_SECRET not in log_stream.getvalue() and CANARY_SECRET not in response.text
