"""Database ledger routes (api.md §3.10): list, detail, latest table sizes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from whalefall.application.capacity.capacity_exports import DATABASE_COLUMNS, ExportDatabases
from whalefall.application.capacity.capacity_queries import GetDatabase, ListDatabases, ListDatabaseTables
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.capacity.refresh_table_sizes import StartTableSizeRefresh
from whalefall.application.ports.capacity import DatabaseQuery
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import parse_sort
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, PageOut, WarningOut, ok, page_out, server_time
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.receipts import SessionReceiptOut, session_receipt
from whalefall.entrypoints.http.schemas.databases import DatabaseOut, TableSizeOut

SORTABLE = ("name", "instance_name", "last_size_bytes", "last_seen_on")
InstanceIds = Annotated[list[int] | None, QueryParameter(name="instance_id")]
DbTypes = Annotated[list[DbEngine] | None, QueryParameter(name="db_type")]
Status = Annotated[Literal["active", "gone"] | None, QueryParameter(name="status")]
IsSystem = Annotated[bool | None, QueryParameter(name="is_system")]
IsExcluded = Annotated[bool | None, QueryParameter(name="is_excluded")]
Freshness = Annotated[Literal["fresh", "stale", "never"] | None, QueryParameter(name="freshness")]
Q = Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)]
TagsAny = Annotated[list[str] | None, QueryParameter(name="tags_any")]
Bom = Annotated[bool, QueryParameter(name="bom", description="prefix a UTF-8 byte-order mark")]


class DatabaseController(Controller):
    path = "/databases"
    tags = ["databases"]

    @get("/", opt=requires(Permission.INSTANCES_READ), summary="Database ledger", description=ListDatabases.__doc__)
    async def list_databases(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListDatabases],
        clock: FromDishka[Clock], config: FromDishka[CapacityConfig],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        instance_id: Annotated[list[int] | None, QueryParameter(name="instance_id")] = None,
        db_type: Annotated[list[DbEngine] | None, QueryParameter(name="db_type")] = None,
        status: Annotated[Literal["active", "gone"] | None, QueryParameter(name="status")] = None,
        is_system: Annotated[bool | None, QueryParameter(name="is_system")] = None,
        is_excluded: Annotated[bool | None, QueryParameter(name="is_excluded")] = None,
        freshness: Annotated[Literal["fresh", "stale", "never"] | None, QueryParameter(name="freshness")] = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
        tags_any: Annotated[list[str] | None, QueryParameter(name="tags_any")] = None,
    ) -> Response[Envelope[PageOut[DatabaseOut]]]:
        paging = page_request(page, limit, sort, allowed=SORTABLE, default="name")
        query = DatabaseQuery(today=config.today(clock), instance_ids=frozenset(instance_id or ()),
                              db_types=frozenset(db_type or ()), status=status, is_system=is_system,
                              is_excluded=is_excluded, freshness=freshness, q=q, tags_any=frozenset(tags_any or ()))
        return ok(request, page_out(await use_case.execute(actor, query, paging), DatabaseOut.of))

    @get("/{database_id:int}", opt=requires(Permission.INSTANCES_READ), summary="Ledger database detail")
    async def get_database(self, request: Request[Any, Any, Any], database_id: FromPath[int],
                           actor: FromDishka[Actor], use_case: FromDishka[GetDatabase]
                           ) -> Response[Envelope[DatabaseOut]]:
        return ok(request, DatabaseOut.of(await use_case.execute(actor, database_id)))

    @get("/{database_id:int}/tables", opt=requires(Permission.CAPACITY_READ), summary="Latest table sizes",
         description=ListDatabaseTables.__doc__)
    async def list_tables(
        self, request: Request[Any, Any, Any], database_id: FromPath[int], actor: FromDishka[Actor],
        use_case: FromDishka[ListDatabaseTables], page: PageQuery = 1, limit: LimitQuery = 20,
        sort: SortQuery = None,
        schema_name: Annotated[str | None, QueryParameter(name="schema", min_length=1, max_length=512)] = None,
        q: Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)] = None,
    ) -> Response[Envelope[PageOut[TableSizeOut]]]:
        paging = page_request(page, limit, sort, allowed=("total_bytes", "table_name"), default="-total_bytes")
        database, tables = await use_case.execute(actor, database_id, schema=schema_name, q=q, page=paging)
        warnings = [WarningOut(code="TABLE_SIZES_TRUNCATED", field=None,
                               message="only the largest tables of this database were kept")
                    ] if database.tables_truncated else []
        return ok(request, page_out(tables, TableSizeOut.of), warnings=warnings)

    @get("/exports", opt=requires(Permission.INSTANCES_READ), media_type=CSV_MEDIA_TYPE,
         summary="Database ledger as CSV (needs exports:run too)", description=ExportDatabases.__doc__)
    async def export_databases(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ExportDatabases],
        clock: FromDishka[Clock], config: FromDishka[CapacityConfig], sort: SortQuery = None, bom: Bom = False,
        instance_id: InstanceIds = None, db_type: DbTypes = None, status: Status = None, is_system: IsSystem = None,
        is_excluded: IsExcluded = None, freshness: Freshness = None, q: Q = None, tags_any: TagsAny = None,
    ) -> Stream:
        query = DatabaseQuery(today=config.today(clock), instance_ids=frozenset(instance_id or ()),
                              db_types=frozenset(db_type or ()), status=status, is_system=is_system,
                              is_excluded=is_excluded, freshness=freshness, q=q, tags_any=frozenset(tags_any or ()))
        rows = await use_case.execute(actor, query, parse_sort(sort, allowed=SORTABLE, default="name"))
        return csv_download("databases", DATABASE_COLUMNS, rows, at=server_time(request), bom=bom)

    @post("/{database_id:int}/actions/refresh-table-sizes", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Re-collect the database's table sizes (queued)", description=StartTableSizeRefresh.__doc__)
    async def refresh_table_sizes(self, request: Request[Any, Any, Any], database_id: FromPath[int],
                                  actor: FromDishka[Actor], use_case: FromDishka[StartTableSizeRefresh]
                                  ) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(actor, database_id)
        return session_receipt(request, session, message="Table-size refresh queued")
