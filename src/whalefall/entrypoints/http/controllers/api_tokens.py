"""API token routes (api.md §3.4): list, create (interactive only, plaintext once), detail, revoke."""

from __future__ import annotations

from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from whalefall.application.identity.api_tokens import (
    CreateApiToken,
    CreateApiTokenInput,
    GetApiToken,
    ListApiTokens,
    ListApiTokensInput,
    RevokeApiToken,
)
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import UserId
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.api_tokens import ApiTokenCreate, ApiTokenOut, NewApiTokenOut, RevokedTokenOut

SORTABLE = ("created_at", "last_used_at", "expires_at")


class ApiTokenController(Controller):
    path = "/api-tokens"
    tags = ["api-tokens"]

    @get("/", opt=requires(Permission.TOKENS_OWN), summary="List API tokens", description=ListApiTokens.__doc__)
    async def list_tokens(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListApiTokens],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        owner_id: Annotated[int | None, QueryParameter(name="owner_id", ge=1)] = None,
        all_owners: Annotated[bool, QueryParameter(name="all", description="everyone's tokens")] = False,
        include_revoked: Annotated[bool, QueryParameter(name="include_revoked")] = False,
    ) -> Response[Envelope[PageOut[ApiTokenOut]]]:
        paging = page_request(page, limit, sort, allowed=SORTABLE, default="-created_at")
        result = await use_case.execute(ListApiTokensInput(
            actor=actor, page=paging, owner_id=UserId(owner_id) if owner_id is not None else None,
            all_owners=all_owners, include_revoked=include_revoked))
        return ok(request, page_out(result, ApiTokenOut.of))

    @post("/", opt=requires(Permission.TOKENS_OWN), summary="Create an API token (the plaintext is shown once)",
          description=CreateApiToken.__doc__)
    async def create_token(self, request: Request[Any, Any, Any], data: JSONBody[ApiTokenCreate],
                           actor: FromDishka[Actor], use_case: FromDishka[CreateApiToken]
                           ) -> Response[Envelope[NewApiTokenOut]]:
        created = await use_case.execute(CreateApiTokenInput(
            actor=actor, name=data.name, scopes=data.scopes, expires_at=data.expires_at,
            owner_id=UserId(data.owner_id) if data.owner_id is not None else None))
        return ok(request, NewApiTokenOut.of(created), message="API token created", status_code=201,
                  location=f"/api/v1/api-tokens/{created.record.id}")

    @get("/{token_id:int}", opt=requires(Permission.TOKENS_OWN), summary="API token detail",
         description=GetApiToken.__doc__)
    async def get_token(self, request: Request[Any, Any, Any], token_id: FromPath[int], actor: FromDishka[Actor],
                        use_case: FromDishka[GetApiToken]) -> Response[Envelope[ApiTokenOut]]:
        return ok(request, ApiTokenOut.of(await use_case.execute(actor, token_id)))

    @delete("/{token_id:int}", opt=requires(Permission.TOKENS_OWN), status_code=200, summary="Revoke an API token",
            description=RevokeApiToken.__doc__)
    async def revoke_token(self, request: Request[Any, Any, Any], token_id: FromPath[int], actor: FromDishka[Actor],
                           use_case: FromDishka[RevokeApiToken]) -> Response[Envelope[RevokedTokenOut]]:
        revoked_at = await use_case.execute(actor, token_id)
        return ok(request, RevokedTokenOut(id=token_id, revoked_at=revoked_at), message="API token revoked")
