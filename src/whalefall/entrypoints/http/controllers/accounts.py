"""Account routes (api.md §3.8) and the account-sync actions on instances (§3.5): list, detail, permissions,
effective privileges, state at an instant, net diff, change log, timeline, holders; queue syncs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from whalefall.application.accounts.export_accounts import COLUMNS, ExportAccounts, ExportAccountsInput, export_row
from whalefall.application.accounts.history import (
    FindHolders,
    GetAccountStateAt,
    GetAccountTimeline,
    GetEffectivePrivileges,
    GetNetDiff,
)
from whalefall.application.accounts.queries import (
    GetAccount,
    GetAccountPermissions,
    ListAccountChanges,
    ListAccounts,
)
from whalefall.application.accounts.start_accounts_sync import (
    StartAccountsSync,
    StartAccountsSyncInput,
)
from whalefall.application.ports.accounts import AccountQuery, HolderQuery
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import parse_sort
from whalefall.domain.accounts.changes import ChangeType
from whalefall.domain.accounts.model import PrincipalKind
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DbEngine, InstanceId
from whalefall.domain.privileges.names import Scope
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.csv_response import CSV_MEDIA_TYPE, csv_download
from whalefall.entrypoints.http.envelope import Envelope, PageOut, ok, page_out, server_time
from whalefall.entrypoints.http.paging import LimitQuery, PageQuery, SortQuery, page_request
from whalefall.entrypoints.http.receipts import selection_of
from whalefall.entrypoints.http.schemas.accounts import (
    AccountOut,
    ChangeOut,
    DiffOut,
    EffectiveOut,
    HolderOut,
    PermissionsOut,
    SelectionIn,
    SessionReceiptOut,
    StateOut,
    TimelineEntryOut,
)

ACCOUNT_SORT = ("key", "instance_name", "first_seen_at", "last_changed_at")
AccountKind = Literal["user", "role", "login", "db_user"]  # the principal kinds that are account rows
From = Annotated[datetime | None, QueryParameter(name="from", description="exclusive, RFC 3339 with an offset")]
To = Annotated[datetime | None, QueryParameter(name="to", description="inclusive, RFC 3339 with an offset")]
At = Annotated[datetime | None, QueryParameter(name="at", description="RFC 3339 with an offset; default now")]
Database = Annotated[str | None, QueryParameter(name="database", min_length=1, max_length=256)]
ClassificationIds = Annotated[list[int] | None, QueryParameter(name="classification_id")]
Unclassified = Annotated[bool | None, QueryParameter(name="unclassified", description="true: no assignment at all")]
Stale = Annotated[bool | None, QueryParameter(name="grants_stale",
                                              description="holds items carried forward from an unread database")]


# The account filters shared by the list and the CSV export (api.md §3: the export takes the list's filters).
InstanceIds = Annotated[list[int] | None, QueryParameter(name="instance_id")]
DbTypes = Annotated[list[DbEngine] | None, QueryParameter(name="db_type")]
TagsAny = Annotated[list[str] | None, QueryParameter(name="tags_any")]
TagsAll = Annotated[list[str] | None, QueryParameter(name="tags_all")]
Search = Annotated[str | None, QueryParameter(name="q", min_length=1, max_length=100)]
Kinds = Annotated[list[AccountKind] | None, QueryParameter(name="kind")]
IncludeInactive = Annotated[bool, QueryParameter(name="include_inactive")]
IsLocked = Annotated[bool | None, QueryParameter(name="is_locked")]
IsSuperuser = Annotated[bool | None, QueryParameter(name="is_superuser")]
LoginCapable = Annotated[bool | None, QueryParameter(name="login_capable")]
ChangedSince = Annotated[datetime | None, QueryParameter(name="changed_since")]


def _account_query(
    *, instance_id: list[int] | None, db_type: list[DbEngine] | None, tags_any: list[str] | None,
    tags_all: list[str] | None, q: str | None, kind: list[AccountKind] | None, include_inactive: bool,
    is_locked: bool | None, is_superuser: bool | None, login_capable: bool | None, changed_since: datetime | None,
    classification_id: list[int] | None, unclassified: bool | None, grants_stale: bool | None,
) -> AccountQuery:
    """The query-string filters as an AccountQuery (absent lists → no restriction)."""
    return AccountQuery(
        instance_ids=frozenset(instance_id or ()), db_types=frozenset(db_type or ()),
        tags_any=frozenset(tags_any or ()), tags_all=frozenset(tags_all or ()), q=q,
        kinds=frozenset(PrincipalKind(k) for k in kind or ()),
        include_inactive=include_inactive, is_locked=is_locked, is_superuser=is_superuser,
        login_capable=login_capable, changed_since=changed_since,
        classification_ids=frozenset(classification_id or ()), unclassified=unclassified,
        grants_stale=grants_stale)


class AccountController(Controller):
    path = "/accounts"
    tags = ["accounts"]

    @get("/", opt=requires(Permission.ACCOUNTS_READ), summary="List accounts", description=ListAccounts.__doc__)
    async def list_accounts(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ListAccounts],
        page: PageQuery = 1, limit: LimitQuery = 20, sort: SortQuery = None,
        instance_id: InstanceIds = None, db_type: DbTypes = None, tags_any: TagsAny = None, tags_all: TagsAll = None,
        q: Search = None, kind: Kinds = None, include_inactive: IncludeInactive = False, is_locked: IsLocked = None,
        is_superuser: IsSuperuser = None, login_capable: LoginCapable = None, changed_since: ChangedSince = None,
        classification_id: ClassificationIds = None, unclassified: Unclassified = None, grants_stale: Stale = None,
    ) -> Response[Envelope[PageOut[AccountOut]]]:
        paging = page_request(page, limit, sort, allowed=ACCOUNT_SORT, default="instance_name,key")
        query = _account_query(
            instance_id=instance_id, db_type=db_type, tags_any=tags_any, tags_all=tags_all, q=q, kind=kind,
            include_inactive=include_inactive, is_locked=is_locked, is_superuser=is_superuser,
            login_capable=login_capable, changed_since=changed_since, classification_id=classification_id,
            unclassified=unclassified, grants_stale=grants_stale)
        return ok(request, page_out(await use_case.execute(actor, query, paging), AccountOut.of))

    @get("/exports", opt=requires(Permission.ACCOUNTS_READ), media_type=CSV_MEDIA_TYPE,
         summary="Accounts as CSV (needs exports:run too)", description=ExportAccounts.__doc__)
    async def export_accounts(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[ExportAccounts],
        sort: SortQuery = None, bom: Annotated[bool, QueryParameter(name="bom")] = False,
        instance_id: InstanceIds = None, db_type: DbTypes = None, tags_any: TagsAny = None, tags_all: TagsAll = None,
        q: Search = None, kind: Kinds = None, include_inactive: IncludeInactive = False, is_locked: IsLocked = None,
        is_superuser: IsSuperuser = None, login_capable: LoginCapable = None, changed_since: ChangedSince = None,
        classification_id: ClassificationIds = None, unclassified: Unclassified = None, grants_stale: Stale = None,
    ) -> Stream:
        query = _account_query(
            instance_id=instance_id, db_type=db_type, tags_any=tags_any, tags_all=tags_all, q=q, kind=kind,
            include_inactive=include_inactive, is_locked=is_locked, is_superuser=is_superuser,
            login_capable=login_capable, changed_since=changed_since, classification_id=classification_id,
            unclassified=unclassified, grants_stale=grants_stale)
        accounts = await use_case.execute(ExportAccountsInput(
            actor=actor, query=query, sort=parse_sort(sort, allowed=ACCOUNT_SORT, default="instance_name,key")))
        return csv_download("accounts", COLUMNS, (export_row(a) for a in accounts), at=server_time(request),
                            bom=bom)

    @get("/{account_id:int}", opt=requires(Permission.ACCOUNTS_READ), summary="Account detail")
    async def get_account(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                          use_case: FromDishka[GetAccount]) -> Response[Envelope[AccountOut]]:
        return ok(request, AccountOut.of(await use_case.execute(actor, account_id)))

    @get("/{account_id:int}/permissions", opt=requires(Permission.ACCOUNTS_READ),
         summary="Current stored grants and memberships", description=GetAccountPermissions.__doc__)
    async def permissions(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                          use_case: FromDishka[GetAccountPermissions],
                          scope_: Annotated[list[Scope] | None, QueryParameter(name="scope")] = None,
                          database: Database = None) -> Response[Envelope[PermissionsOut]]:
        result = await use_case.execute(actor, account_id, scopes=frozenset(scope_ or ()), database=database)
        return ok(request, PermissionsOut.of(result))

    @get("/{account_id:int}/effective-privileges", opt=requires(Permission.ACCOUNTS_READ),
         summary="Privileges after role resolution, with every grant path",
         description=GetEffectivePrivileges.__doc__)
    async def effective(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                        use_case: FromDishka[GetEffectivePrivileges],
                        privilege: Annotated[str | None, QueryParameter(name="privilege", min_length=1,
                                                                        max_length=128)] = None,
                        scope_: Annotated[Scope | None, QueryParameter(name="scope")] = None,
                        database: Database = None, at: At = None) -> Response[Envelope[EffectiveOut]]:
        result = await use_case.execute(actor, account_id, at=at, privilege=privilege, scope=scope_,
                                        database=database)
        return ok(request, EffectiveOut.of(result))

    @get("/{account_id:int}/state", opt=requires(Permission.ACCOUNTS_READ), summary="The account at an instant",
         description=GetAccountStateAt.__doc__)
    async def state(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                    use_case: FromDishka[GetAccountStateAt],
                    at: Annotated[datetime, QueryParameter(name="at", description="RFC 3339 with an offset")]
                    ) -> Response[Envelope[StateOut]]:
        return ok(request, StateOut.of(await use_case.execute(actor, account_id, at)))

    @get("/{account_id:int}/diff", opt=requires(Permission.ACCOUNTS_READ),
         summary="Net difference between two instants", description=GetNetDiff.__doc__)
    async def diff(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                   use_case: FromDishka[GetNetDiff],
                   since: Annotated[datetime, QueryParameter(name="from", description="RFC 3339 with an offset")],
                   until: Annotated[datetime, QueryParameter(name="to", description="RFC 3339 with an offset")],
                   ) -> Response[Envelope[DiffOut]]:
        return ok(request, DiffOut.of(await use_case.execute(actor, account_id, since, until)))

    @get("/{account_id:int}/changes", opt=requires(Permission.ACCOUNTS_READ), summary="This account's change log",
         description=ListAccountChanges.__doc__)
    async def changes(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                      use_case: FromDishka[ListAccountChanges], page: PageQuery = 1, limit: LimitQuery = 20,
                      sort: SortQuery = None, since: From = None, until: To = None,
                      type_: Annotated[list[ChangeType] | None, QueryParameter(name="type")] = None,
                      ) -> Response[Envelope[PageOut[ChangeOut]]]:
        paging = page_request(page, limit, sort, allowed=("observed_at",), default="-observed_at")
        result = await use_case.execute(actor, account_id, since=since, until=until,
                                        types=frozenset(t.value for t in type_ or ()), page=paging)
        return ok(request, page_out(result, ChangeOut.of))

    @get("/{account_id:int}/timeline", opt=requires(Permission.ACCOUNTS_READ),
         summary="State versions with the change entries between them", description=GetAccountTimeline.__doc__)
    async def timeline(self, request: Request[Any, Any, Any], account_id: FromPath[int], actor: FromDishka[Actor],
                       use_case: FromDishka[GetAccountTimeline], page: PageQuery = 1, limit: LimitQuery = 20
                       ) -> Response[Envelope[PageOut[TimelineEntryOut]]]:
        paging = page_request(page, limit, None, allowed=("valid_from",), default="valid_from")
        return ok(request, page_out(await use_case.execute(actor, account_id, paging), TimelineEntryOut.of))

    @get("/holders", opt=requires(Permission.ACCOUNTS_READ), summary="Who held a privilege at an instant",
         description=FindHolders.__doc__)
    async def holders(
        self, request: Request[Any, Any, Any], actor: FromDishka[Actor], use_case: FromDishka[FindHolders],
        clock: FromDishka[Clock],
        privilege: Annotated[str, QueryParameter(name="privilege", min_length=1, max_length=128)],
        scope_: Annotated[Scope, QueryParameter(name="scope")],
        page: PageQuery = 1, limit: LimitQuery = 20,
        object_path: Annotated[str | None, QueryParameter(name="object_path", min_length=1, max_length=1024)] = None,
        instance_id: Annotated[list[int] | None, QueryParameter(name="instance_id")] = None,
        at: At = None, effective: Annotated[bool, QueryParameter(name="effective")] = False,
    ) -> Response[Envelope[PageOut[HolderOut]]]:
        paging = page_request(page, limit, None, allowed=("key",), default="key")
        query = HolderQuery(privilege=privilege.upper(), scope=scope_.value, at=at or clock.now(),
                            object_path=object_path, instance_ids=frozenset(instance_id or ()))
        return ok(request, page_out(await use_case.execute(actor, query, effective=effective, page=paging),
                                    HolderOut.of))


class AccountSyncController(Controller):
    """The two account-sync actions of api.md §3.5 (their paths belong to this controller only)."""

    path = "/instances"
    tags = ["accounts"]

    @post("/{instance_id:int}/actions/sync-accounts", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Sync one instance's accounts (queued)", description=StartAccountsSync.__doc__)
    async def sync_instance(self, request: Request[Any, Any, Any], instance_id: FromPath[int],
                            actor: FromDishka[Actor], use_case: FromDishka[StartAccountsSync]
                            ) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(StartAccountsSyncInput(actor=actor, instance_id=InstanceId(instance_id)))
        return _receipt(request, session_receipt=SessionReceiptOut.of(session))

    @post("/actions/sync-accounts", opt=requires(Permission.SYNC_RUN), status_code=202,
          summary="Sync the accounts of a selection (queued)", description=StartAccountsSync.__doc__)
    async def sync_selection(self, request: Request[Any, Any, Any], data: JSONBody[SelectionIn],
                             actor: FromDishka[Actor], use_case: FromDishka[StartAccountsSync]
                             ) -> Response[Envelope[SessionReceiptOut]]:
        session = await use_case.execute(StartAccountsSyncInput(actor=actor, selection=selection_of(data)))
        return _receipt(request, session_receipt=SessionReceiptOut.of(session))


def _receipt(request: Request[Any, Any, Any], *, session_receipt: SessionReceiptOut
             ) -> Response[Envelope[SessionReceiptOut]]:
    return ok(request, session_receipt, message="Account sync queued", status_code=202,
              location=session_receipt.status_url)
