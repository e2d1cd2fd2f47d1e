"""Credential routes (api.md §3.6): metadata CRUD and a dedicated secret route; secrets never come back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.instances.credential_rotation_session import StartCredentialRotation
from whalefall.application.instances.credentials import (
    CreateCredential,
    CreateCredentialInput,
    DeleteCredential,
    GetCredential,
    ListCredentials,
    ReplaceCredentialSecret,
    UpdateCredential,
    UpdateCredentialInput,
)
from whalefall.application.ports.instances import CredentialQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import CredentialId, DbEngine
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, IdOut, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.patching import given
from whalefall.entrypoints.http.receipts import SessionReceiptOut, session_receipt
from whalefall.entrypoints.http.schemas.credentials import CredentialCreate, CredentialOut, CredentialPatch, SecretPut


class CredentialController(Controller):
    path = "/credentials"
    tags = ["credentials"]

    @get("/", opt=requires(Permission.CREDENTIALS_READ), summary="List credentials")
    async def list_credentials(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListCredentials],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        auth_method: Annotated[Literal["password", "windows"] | None, QueryParameter(name="auth_method")] = None,
        key_id: Annotated[str | None, QueryParameter(name="key_id", min_length=1, max_length=64)] = None,
        in_use: Annotated[bool | None, QueryParameter(name="in_use")] = None,
    ) -> Response[Envelope[PageOut[CredentialOut]]]:
        paging = page_request(page, limit, sort, allowed=("name", "created_at", "secret_updated_at"), default="name")
        query = CredentialQuery(q=q, db_types=frozenset(db_type or ()), auth_method=auth_method, key_id=key_id,
                                in_use=in_use)
        return ok(request, page_out(await use_case.execute(actor, query, paging), CredentialOut.of))

    @post("/", opt=requires(Permission.CREDENTIALS_WRITE), summary="Create a credential",
          description=CreateCredential.__doc__)
    async def create_credential(self, request: Request[Any, Any, Any], data: JSONBody[CredentialCreate],
                                actor: FromDishka[Actor], use_case: FromDishka[CreateCredential]
                                ) -> Response[Envelope[CredentialOut]]:
        record = await use_case.execute(CreateCredentialInput(
            actor=actor, name=data.name, username=data.username, secret=data.secret, db_type=data.db_type,
            auth_method=data.auth_method, description=data.description))
        return ok(request, CredentialOut.of(record), message="Credential created", status_code=201,
                  location=f"/api/v1/credentials/{record.id}")

    @get("/{credential_id:int}", opt=requires(Permission.CREDENTIALS_READ), summary="Credential detail")
    async def get_credential(self, request: Request[Any, Any, Any], credential_id: FromPath[int],
                             actor: FromDishka[Actor], use_case: FromDishka[GetCredential]
                             ) -> Response[Envelope[CredentialOut]]:
        return ok(request, CredentialOut.of(await use_case.execute(actor, CredentialId(credential_id))))

    @patch("/{credential_id:int}", opt=requires(Permission.CREDENTIALS_WRITE), summary="Update credential metadata")
    async def update_credential(self, request: Request[Any, Any, Any], credential_id: FromPath[int],
                                data: JSONBody[CredentialPatch], actor: FromDishka[Actor],
                                use_case: FromDishka[UpdateCredential]) -> Response[Envelope[CredentialOut]]:
        record = await use_case.execute(UpdateCredentialInput(
            actor=actor, credential_id=CredentialId(credential_id), name=given(data.name),
            username=given(data.username), db_type=given(data.db_type), description=given(data.description),
            revision=data.revision))
        return ok(request, CredentialOut.of(record), message="Credential updated")

    @put("/{credential_id:int}/secret", opt=requires(Permission.CREDENTIALS_WRITE), summary="Replace the secret")
    async def replace_secret(self, request: Request[Any, Any, Any], credential_id: FromPath[int],
                             data: JSONBody[SecretPut], actor: FromDishka[Actor],
                             use_case: FromDishka[ReplaceCredentialSecret]) -> Response[Envelope[CredentialOut]]:
        record = await use_case.execute(actor, CredentialId(credential_id), data.secret)
        return ok(request, CredentialOut.of(record), message="Secret replaced")

    @delete("/{credential_id:int}", opt=requires(Permission.CREDENTIALS_WRITE), status_code=200,
            summary="Delete a credential (refused while referenced)")
    async def delete_credential(self, request: Request[Any, Any, Any], credential_id: FromPath[int],
                                actor: FromDishka[Actor], use_case: FromDishka[DeleteCredential],
                                revision: Annotated[int | None, QueryParameter(name="revision")] = None
                                ) -> Response[Envelope[IdOut]]:
        await use_case.execute(actor, CredentialId(credential_id), revision)
        return ok(request, IdOut(id=credential_id), message="Credential deleted")

    @post("/actions/rotate-keys", opt=requires(Permission.SYSTEM_MANAGE), status_code=202,
          summary="Queue re-encryption of every secret with the active key",
          description=StartCredentialRotation.__doc__)
    async def rotate_keys(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                          use_case: FromDishka[StartCredentialRotation]) -> Response[Envelope[SessionReceiptOut]]:
        return session_receipt(request, await use_case.execute(actor), message="Credential key rotation queued")
