"""Fleet change-log routes (api.md §3.8): `/account-changes`, its CSV export and one entry with its full diff."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from whalefall.application.accounts.export_account_changes import (
    COLUMNS,
    ExportAccountChanges,
    ExportAccountChangesInput,
    export_row,
)
from whalefall.application.accounts.queries import GetChange, ListFleetChanges
from whalefall.application.ports.accounts import ChangeQuery
from whalefall.application.shared.actor import Actor
from whalefall.domain.accounts.changes import ChangeType
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out, server_time
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.schemas.accounts import ChangeOut

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # placeholder window; the use case sets the real one
From = Annotated[datetime | None, QueryParameter(name="from", description="exclusive; default to - 30 days")]
To = Annotated[datetime | None, QueryParameter(name="to", description="inclusive; default now")]
InstanceIds = Annotated[list[int] | None, QueryParameter(name="instance_id")]
AccountIds = Annotated[list[int] | None, QueryParameter(name="account_id")]
DbTypes = Annotated[list[DbEngine] | None, QueryParameter(name="db_type")]
Types = Annotated[list[ChangeType] | None, QueryParameter(name="type")]
SessionId = Annotated[str | None, QueryParameter(name="session_id", min_length=1, max_length=64)]
Q = Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)]


def _filters(instance_id: list[int] | None, account_id: list[int] | None, db_type: list[DbEngine] | None,
             type_: list[ChangeType] | None, session_id: str | None, q: str | None) -> ChangeQuery:
    return ChangeQuery(since=_EPOCH, until=_EPOCH, instance_ids=frozenset(instance_id or ()),
                       account_ids=frozenset(account_id or ()), db_types=frozenset(db_type or ()),
                       types=frozenset(t.value for t in type_ or ()), session_id=session_id, q=q)


class AccountChangeController(Controller):
    path = "/account-changes"
    tags = ["accounts"]

    @get("/", opt=requires(Permission.ACCOUNTS_READ), summary="Fleet change log",
         description=ListFleetChanges.__doc__)
    async def list_changes(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListFleetChanges],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        since: Annotated[datetime | None, QueryParameter(name="from", description="exclusive; default to - 30 days")
                         ] = None,
        until: Annotated[datetime | None, QueryParameter(name="to", description="inclusive; default now")] = None,
        instance_id: Annotated[list[int] | None, QueryParameter(name="instance_id")] = None,
        account_id: Annotated[list[int] | None, QueryParameter(name="account_id")] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        type_: Annotated[list[ChangeType] | None, QueryParameter(name="type")] = None,
        session_id: Annotated[str | None, QueryParameter(name="session_id", min_length=1, max_length=64)] = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
    ) -> Response[Envelope[PageOut[ChangeOut]]]:
        paging = page_request(page, limit, sort, allowed=("observed_at",), default="-observed_at")
        filters = ChangeQuery(since=_EPOCH, until=_EPOCH, instance_ids=frozenset(instance_id or ()),
                              account_ids=frozenset(account_id or ()), db_types=frozenset(db_type or ()),
                              types=frozenset(t.value for t in type_ or ()), session_id=session_id, q=q)
        result = await use_case.execute(actor, filters, since=since, until=until, page=paging)
        return ok(request, page_out(result, ChangeOut.of))

    @get("/exports", opt=requires(Permission.ACCOUNTS_READ), media_type=CSV_MEDIA_TYPE,
         summary="Fleet change log as CSV (needs exports:run too)", description=ExportAccountChanges.__doc__)
    async def export_changes(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ExportAccountChanges],
        bom: Annotated[bool, QueryParameter(name="bom")] = False, since: From = None, until: To = None,
        instance_id: InstanceIds = None, account_id: AccountIds = None, db_type: DbTypes = None,
        type_: Types = None, session_id: SessionId = None, q: Q = None,
    ) -> Stream:
        rows = await use_case.execute(ExportAccountChangesInput(
            actor=actor, query=_filters(instance_id, account_id, db_type, type_, session_id, q), since=since,
            until=until))
        return csv_download("account_changes", COLUMNS, (export_row(r) for r in rows), at=server_time(request),
                            bom=bom)

    @get("/{change_id:int}", opt=requires(Permission.ACCOUNTS_READ), summary="One change entry with its full diff")
    async def get_change(self, request: Request[Any, Any, Any], change_id: FromPath[int], actor: FromDishka[Actor],
                         use_case: FromDishka[GetChange]) -> Response[Envelope[ChangeOut]]:
        return ok(request, ChangeOut.of(await use_case.execute(actor, change_id)))
