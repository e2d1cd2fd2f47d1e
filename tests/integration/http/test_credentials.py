"""Credential routes: write-only secrets, round trip through the cipher, in-use deletes (api.md §3.6;
capacity.md §1.2, defects 9, 10)."""

from __future__ import annotations

import base64
from typing import Any

from tests.support.http_client import Api, data_of, error_of
from whalefall.application.instances.credentials import associated_data
from whalefall.application.ports.security import SecretCipher
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import CredentialId

SECRET = "Pässwörd-🐳-" + "x" * 1000  # > 1000 characters, multi-byte


def _kilobyte_secret() -> str:
    value = "é" * 511 + "xy"  # 511 * 2 + 2 = 1024 bytes of UTF-8
    assert len(value.encode()) == 1024
    return value


async def _decrypt(api: Api, credential_id: int) -> str:
    async with api.container() as scope:
        from whalefall.application.ports.instances import CredentialRepository

        repository = await scope.get(CredentialRepository)
        stored = await repository.get_secret(CredentialId(credential_id))
    assert stored is not None
    cipher = await api.container.get(SecretCipher)
    return cipher.decrypt(stored, associated_data=associated_data(credential_id)).reveal()


async def _ciphertext(api: Api, credential_id: int) -> bytes:
    [row] = await api.rows("SELECT secret_ciphertext FROM credentials WHERE id = :id", id=credential_id)
    return bytes(row["secret_ciphertext"])


def _forms(blob: bytes) -> list[str]:
    """Every textual form a leaked ciphertext could take in a JSON body."""
    return [blob.hex(), blob.hex().upper(), base64.b64encode(blob).decode(), base64.urlsafe_b64encode(blob).decode(),
            base64.b64encode(blob).decode().rstrip("="), base64.b64encode(blob[1:13]).decode()]


async def test_create_patch_put_delete_and_no_secret_ever_returned(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    bodies: list[str] = []
    created_response = await api.client.post("/api/v1/credentials", headers=op, json={
        "name": "app-rw", "username": "DOMAIN\\app", "secret": _kilobyte_secret(), "db_type": "sqlserver",
        "auth_method": "windows", "description": "service login"})
    assert created_response.status_code == 201
    created = data_of(created_response)
    bodies.append(created_response.text)
    assert created["has_secret"] is True and created["key_id"] == "k1" and created["instance_count"] == 0
    assert not {"secret", "secret_ciphertext", "password"} & set(created)
    credential_id = created["id"]
    assert await _decrypt(api, credential_id) == _kilobyte_secret()
    first_blob = await _ciphertext(api, credential_id)
    assert first_blob[0] == 1 and len(first_blob) == 1 + 12 + 1024 + 16

    patched = await api.client.patch(f"/api/v1/credentials/{credential_id}", headers=op,
                                     json={"username": "app@corp", "revision": created["revision"]})
    bodies.append(patched.text)
    assert data_of(patched)["username"] == "app@corp"
    read_only = await api.client.patch(f"/api/v1/credentials/{credential_id}", headers=op, json={"secret": "new"})
    assert [(d["field"], d["code"]) for d in error_of(read_only, 400, "VALIDATION_ERROR")["details"]] == [
        ("body.secret", "read_only")]

    put = await api.client.put(f"/api/v1/credentials/{credential_id}/secret", headers=op, json={"secret": SECRET})
    bodies.append(put.text)
    assert data_of(put)["has_secret"] is True
    assert await _decrypt(api, credential_id) == SECRET
    second_blob = await _ciphertext(api, credential_id)
    assert second_blob != first_blob

    for path in ("/api/v1/credentials", f"/api/v1/credentials/{credential_id}",
                 "/api/v1/credentials?q=app"):
        response = await api.client.get(path, headers=op)
        assert response.status_code == 200
        bodies.append(response.text)
    instance = await api.client.post("/api/v1/instances", headers=op, json={
        "name": "mssql", "db_type": "sqlserver", "host": "sql.example.com", "credential_id": credential_id})
    bodies.append(instance.text)
    bodies.append((await api.client.get("/api/v1/instances", headers=op)).text)
    for body in bodies:
        for secret in (SECRET, _kilobyte_secret()):
            assert secret not in body
        for blob in (first_blob, second_blob):
            for form in _forms(blob):
                assert form not in body
    events = await api.rows("SELECT action, changes, details FROM audit_events WHERE target_type = 'credential'")
    assert {e["action"] for e in events} == {"credential.create", "credential.update", "credential.secret_change"}
    assert all(SECRET not in str(e) and "é" * 100 not in str(e) for e in events)


async def test_delete_refused_while_referenced_even_by_a_soft_deleted_instance(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    credential = data_of(await api.client.post("/api/v1/credentials", headers=op,
                                               json={"name": "shared", "username": "u", "secret": "s"}))
    instance = data_of(await api.client.post("/api/v1/instances", headers=op, json={
        "name": "i1", "db_type": "mysql", "host": "m1.example.com", "credential_id": credential["id"]}))
    data_of(await api.client.delete(f"/api/v1/instances/{instance['id']}", headers=op))
    body = error_of(await api.client.delete(f"/api/v1/credentials/{credential['id']}", headers=op),
                    409, "CREDENTIAL_IN_USE")
    assert body["details"][0]["context"] == {"instance_ids": [instance["id"]]}
    data_of(await api.client.post(f"/api/v1/instances/{instance['id']}/actions/purge",
                                  headers=await api.headers(Role.ADMIN)))
    assert data_of(await api.client.delete(f"/api/v1/credentials/{credential['id']}", headers=op)) == {
        "id": credential["id"]}
    error_of(await api.client.get(f"/api/v1/credentials/{credential['id']}", headers=op), 404, "RESOURCE_NOT_FOUND")


async def test_names_unique_and_roles(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    data_of(await api.client.post("/api/v1/credentials", headers=op,
                                  json={"name": "Ops", "username": "u", "secret": "s"}))
    error_of(await api.client.post("/api/v1/credentials", headers=op,
                                   json={"name": "ops", "username": "u", "secret": "s"}), 409, "ALREADY_EXISTS")
    assert data_of(await api.client.get("/api/v1/credentials", headers=await api.headers(Role.AUDITOR)))["total"] == 1
    error_of(await api.client.get("/api/v1/credentials", headers=await api.headers(Role.VIEWER)),
             403, "PERMISSION_DENIED")
    for role in (Role.VIEWER, Role.AUDITOR):
        response = await api.client.post("/api/v1/credentials", headers=await api.headers(role),
                                         json={"name": "x", "username": "u", "secret": "s"})
        error_of(response, 403, "PERMISSION_DENIED")


async def test_secret_limits(api: Api) -> None:
    op = await api.headers(Role.OPERATOR)
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"secret": ""}, "body.secret", "too_short"),
        ({"secret": "a\x00b"}, "body.secret", "invalid_format"),
        ({"secret": "é" * 600}, "body.secret", "invalid_format"),
    ]
    for extra, field, code in cases:
        response = await api.client.post("/api/v1/credentials", headers=op,
                                         json={"name": "n", "username": "u", **extra})
        body = error_of(response, 400, "VALIDATION_ERROR")
        assert [(d["field"], d["code"]) for d in body["details"]] == [(field, code)]
        assert extra["secret"] == "" or extra["secret"] not in response.text
