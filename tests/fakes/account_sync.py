"""Fakes for account syncs: a scripted PostgreSQL catalog, a connector factory serving recorded catalog rows, a
plain-text secret cipher and an in-memory record context (fence and cancel probes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    Capability,
    Connector,
    ConnectorFactory,
    ConnectorTimeouts,
    ServerInfo,
    SizeCollection,
    TableSizeRow,
)
from whalefall.application.ports.security import CredentialUnreadableError, EncryptedSecret, SecretCipher
from whalefall.application.ports.sessions import RecordView, SessionView
from whalefall.application.sessions.work import RecordCancelledError, RecordContext
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.accounts.rows.postgresql import (
    PgAclRow,
    PgAuthMemberRow,
    PgCatalogRows,
    PgDatabaseAclRow,
    PgDatabaseRows,
    PgRelationAclRow,
    PgRoleRow,
    PgServerRow,
)
from whalefall.domain.errors import UnsupportedCapabilityError
from whalefall.domain.instances import ConnectionTarget, DbEngine, InstanceId, SecretText
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionStatus, SessionTrigger

COLLECTOR = "whalefall"
#: Catalog queries of the fake PostgreSQL server: cluster-level reads plus three per database, whatever the size.
PG_QUERIES_PER_DATABASE = 3


@dataclass
class FakePgServer:
    """A mutable PostgreSQL catalog: roles, memberships and table grants in one database (`app`)."""

    instance_id: int
    version: int = 160002
    roles: dict[str, dict[str, object]] = field(default_factory=dict)
    members: dict[tuple[str, str], bool] = field(default_factory=dict)
    table_grants: dict[tuple[str, str, str, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.add_role(COLLECTOR, login=True)
        self.add_role("postgres", login=True, superuser=True)

    def add_role(self, name: str, *, login: bool = False, superuser: bool = False,
                 valid_until: datetime | None = None) -> None:
        self.roles[name] = {"login": login, "superuser": superuser, "valid_until": valid_until}

    def drop_role(self, name: str) -> None:
        del self.roles[name]
        self.members = {k: v for k, v in self.members.items() if name not in k}
        self.table_grants = {k: v for k, v in self.table_grants.items() if k[0] != name}

    def grant_role(self, role: str, member: str, *, admin: bool = False) -> None:
        self.members[(role, member)] = admin

    def revoke_role(self, role: str, member: str) -> None:
        self.members.pop((role, member), None)

    def grant(self, grantee: str, privilege: str, table: str, *, option: bool = False) -> None:
        self.table_grants[(grantee, privilege, "public", table)] = option

    def revoke(self, grantee: str, privilege: str, table: str) -> None:
        self.table_grants.pop((grantee, privilege, "public", table), None)

    def rows(self, observed_at: datetime) -> PgCatalogRows:
        oids = {name: 20000 + index for index, name in enumerate(sorted(self.roles))}

        def acl(grantee: int, privilege: str, grantable: bool = False) -> PgAclRow:
            return PgAclRow(grantor=oids["postgres"], grantee=grantee, privilege_type=privilege,
                            is_grantable=grantable)

        return PgCatalogRows(
            meta=CatalogMeta(instance_id=InstanceId(self.instance_id), observed_at=observed_at,
                             query_count=4 + PG_QUERIES_PER_DATABASE, collector=COLLECTOR),
            server=PgServerRow(server_version_num=self.version, current_database="postgres", object_grants="full"),
            roles=tuple(PgRoleRow(oid=oids[name], rolname=name, rolcanlogin=bool(attrs["login"]),
                                  rolsuper=bool(attrs["superuser"]),
                                  rolvaliduntil=attrs["valid_until"] if isinstance(attrs["valid_until"], datetime)
                                  else None)
                        for name, attrs in sorted(self.roles.items())),
            memberships=tuple(PgAuthMemberRow(roleid=oids[role], member=oids[member], grantor=oids["postgres"],
                                              admin_option=admin, inherit_option=True, set_option=True)
                              for (role, member), admin in sorted(self.members.items())),
            database_acls=(PgDatabaseAclRow(datname="app", datdba=oids["postgres"], datallowconn=True,
                                            datistemplate=False, acl=acl(oids["postgres"], "CONNECT")),),
            databases=(PgDatabaseRows(datname="app", relations=tuple(
                PgRelationAclRow(nspname=schema, relname=table, relkind="r", acl=acl(oids[who], privilege, option))
                for (who, privilege, schema, table), option in sorted(self.table_grants.items()))),),
        )


class FakeCatalogConnector(Connector):
    """Serves one recorded catalog (or raises the scripted error); only account reads are supported."""

    def __init__(self, read: Callable[[], AccountCatalogRows]) -> None:
        self._read = read

    async def server_info(self) -> ServerInfo:
        return ServerInfo(flavor="postgresql", version="16.2", version_major=16, version_minor=2, edition=None,
                          product="PostgreSQL", raw="PostgreSQL 16.2")

    async def missing_collector_privileges(self) -> tuple[str, ...]:
        return ()

    async def read_account_catalog(self, *, instance_id: int) -> AccountCatalogRows:
        return self._read()

    async def list_databases(self) -> tuple[str, ...]:
        raise UnsupportedCapabilityError()

    async def database_sizes(self, names: Sequence[str]) -> SizeCollection:
        raise UnsupportedCapabilityError()

    async def table_sizes(self, database: str, *, max_tables: int) -> tuple[TableSizeRow, ...]:
        raise UnsupportedCapabilityError()


class FakeCatalogConnectorFactory(ConnectorFactory):
    """Maps instance ids to a catalog source (a callable returning rows or raising); records every target."""

    def __init__(self) -> None:
        self.sources: dict[int, Callable[[], AccountCatalogRows]] = {}
        self.opened: list[ConnectionTarget] = []

    def serve(self, instance_id: int, source: Callable[[], AccountCatalogRows]) -> None:
        self.sources[instance_id] = source

    def capabilities(self, engine: DbEngine) -> frozenset[Capability]:
        return frozenset({Capability.ACCOUNTS, Capability.ROLE_GRAPH})

    def open(self, target: ConnectionTarget, timeouts: ConnectorTimeouts) -> AbstractAsyncContextManager[Connector]:
        self.opened.append(target)
        source = self.sources[int(target.instance_id)]

        @asynccontextmanager
        async def connection() -> AsyncIterator[Connector]:
            yield FakeCatalogConnector(source)

        return connection()


class PlainSecretCipher(SecretCipher):
    """'Encrypts' by prefixing the associated data, so a blob copied onto another row fails to decrypt."""

    @property
    def active_key_id(self) -> str:
        return "k1"

    def key_ids(self) -> frozenset[str]:
        return frozenset({"k1"})

    def encrypt(self, plaintext: SecretText, *, associated_data: bytes) -> EncryptedSecret:
        return EncryptedSecret("k1", associated_data + b"|" + plaintext.reveal().encode())

    def decrypt(self, secret: EncryptedSecret, *, associated_data: bytes) -> SecretText:
        prefix, _, text = secret.blob.partition(b"|")
        if prefix != associated_data:
            raise CredentialUnreadableError()
        return SecretText(text.decode())


@dataclass
class ContextProbe:
    """What the record runner would have seen: fence calls, and a switch to request cancellation."""

    fenced: int = 0
    cancel: bool = False


def record_context(*, record_id: int, session_id: str, instance_id: int,
                   now: datetime | None = None) -> tuple[RecordContext, ContextProbe]:
    at = now or datetime(2025, 1, 1, tzinfo=UTC)
    probe = ContextProbe()
    record = RecordView(id=record_id, session_id=session_id, kind=SessionKind.ACCOUNTS_SYNC, item_type="instance",
                        item_key=str(instance_id), instance_id=instance_id, instance_name=f"i{instance_id}",
                        status=RecordStatus.RUNNING, attempt=1, dispatch_count=1, lease_owner="w1",
                        lease_expires_at=None, heartbeat_at=None, started_at=at, finished_at=None, error_code=None,
                        error_class=None, error_message=None)
    session = SessionView(id=session_id, kind=SessionKind.ACCOUNTS_SYNC, scope=SessionScope.TARGETED,
                          trigger=SessionTrigger.MANUAL, status=SessionStatus.RUNNING, job_id=None,
                          pipeline_run_id=None, step_name=None, created_by=None, created_by_name=None,
                          origin_request_id=None, params={}, summary={}, total=1, pending=0, running=1, succeeded=0,
                          failed=0, skipped=0, cancelled=0, created_at=at, started_at=at, finished_at=None,
                          cancel_requested_at=None, error_code=None, error_message=None)

    async def fence() -> None:
        probe.fenced += 1

    async def check_cancel() -> None:
        if probe.cancel:
            raise RecordCancelledError()

    return RecordContext(record=record, session=session, worker_id="w1", fence=fence,
                         check_cancel=check_cancel), probe
