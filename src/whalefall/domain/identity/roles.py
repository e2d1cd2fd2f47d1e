"""The one permission registry: roles → permission sets (api.md §4.2), used by guards, use cases and /auth."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Permission(StrEnum):
    """Every permission name of api.md §4.2 (wire form `area:verb`)."""

    INSTANCES_READ = "instances:read"
    INSTANCES_WRITE = "instances:write"
    CREDENTIALS_READ = "credentials:read"
    CREDENTIALS_WRITE = "credentials:write"
    TAGS_WRITE = "tags:write"
    ACCOUNTS_READ = "accounts:read"
    CLASSIFICATIONS_READ = "classifications:read"
    RULES_WRITE = "rules:write"
    CAPACITY_READ = "capacity:read"
    SYNC_RUN = "sync:run"
    SESSIONS_READ = "sessions:read"
    JOBS_READ = "jobs:read"
    JOBS_MANAGE = "jobs:manage"
    PARTITIONS_READ = "partitions:read"
    PARTITIONS_MANAGE = "partitions:manage"
    LOGS_READ = "logs:read"
    AUDIT_READ = "audit:read"
    USERS_READ = "users:read"
    USERS_MANAGE = "users:manage"
    EXPORTS_RUN = "exports:run"
    DASHBOARD_READ = "dashboard:read"
    METRICS_READ = "metrics:read"
    SYSTEM_READ = "system:read"
    SYSTEM_MANAGE = "system:manage"
    TOKENS_OWN = "tokens:own"


class Role(StrEnum):
    """The four fixed roles of v1."""

    ADMIN = "admin"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    VIEWER = "viewer"


PERMISSION_DESCRIPTIONS: Final = MappingProxyType({
    Permission.INSTANCES_READ: "instances, tags, databases ledger",
    Permission.INSTANCES_WRITE: "create/update/delete/restore/import instances, test a registered instance",
    Permission.CREDENTIALS_READ: "credential metadata",
    Permission.CREDENTIALS_WRITE: "credentials; attach a credential; move an endpoint that holds one",
    Permission.TAGS_WRITE: "tags and bulk tag actions",
    Permission.ACCOUNTS_READ: "accounts, grants, effective privileges, state at a time, diffs, change log",
    Permission.CLASSIFICATIONS_READ: "classifications, rules, assignments, statistics, validate, explain, dry-run",
    Permission.RULES_WRITE: "classifications, rules, manual assignments",
    Permission.CAPACITY_READ: "aggregations, summaries, samples, forecasts, table sizes",
    Permission.SYNC_RUN: "account syncs, capacity collection and aggregation, auto-classify, cancel sessions",
    Permission.SESSIONS_READ: "sync sessions and records",
    Permission.JOBS_READ: "scheduler jobs and status, pipeline definitions and runs",
    Permission.JOBS_MANAGE: "edit, pause, resume, run jobs; create, edit, run, rerun, cancel pipelines",
    Permission.PARTITIONS_READ: "partition info, status, list, plan",
    Permission.PARTITIONS_MANAGE: "partition apply and cleanup",
    Permission.LOGS_READ: "unified logs",
    Permission.AUDIT_READ: "audit events",
    Permission.USERS_READ: "users, everyone's API token metadata",
    Permission.USERS_MANAGE: "create, change, disable users; reset passwords; unlock; revoke sessions and tokens",
    Permission.EXPORTS_RUN: "CSV exports (with the resource's read permission)",
    Permission.DASHBOARD_READ: "dashboard",
    Permission.METRICS_READ: "Prometheus metrics",
    Permission.SYSTEM_READ: "health details (versions, heartbeats, queue depths, key usage)",
    Permission.SYSTEM_MANAGE: "purge soft-deleted instances, force-delete linked tags, rotate credential keys, "
                              "reset built-in jobs and pipelines",
    Permission.TOKENS_OWN: "manage one's own API tokens",
})

_P = Permission
_VIEWER: Final = frozenset({_P.INSTANCES_READ, _P.CAPACITY_READ, _P.SESSIONS_READ, _P.DASHBOARD_READ, _P.TOKENS_OWN})
_AUDITOR: Final = _VIEWER | {
    _P.CREDENTIALS_READ, _P.ACCOUNTS_READ, _P.CLASSIFICATIONS_READ, _P.JOBS_READ, _P.PARTITIONS_READ, _P.LOGS_READ,
    _P.AUDIT_READ, _P.USERS_READ, _P.EXPORTS_RUN, _P.METRICS_READ, _P.SYSTEM_READ,
}
_OPERATOR: Final = _VIEWER | {
    _P.INSTANCES_WRITE, _P.CREDENTIALS_READ, _P.CREDENTIALS_WRITE, _P.TAGS_WRITE, _P.ACCOUNTS_READ,
    _P.CLASSIFICATIONS_READ, _P.RULES_WRITE, _P.SYNC_RUN, _P.JOBS_READ, _P.JOBS_MANAGE, _P.PARTITIONS_READ,
    _P.EXPORTS_RUN, _P.METRICS_READ,
}

ROLE_PERMISSIONS: Final[MappingProxyType[Role, frozenset[Permission]]] = MappingProxyType({
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(_OPERATOR),
    Role.AUDITOR: frozenset(_AUDITOR),
    Role.VIEWER: _VIEWER,
})


def permissions_of(role: Role) -> frozenset[Permission]:
    """The permission set of a role."""
    return ROLE_PERMISSIONS[role]


def may_assign_role(actor_permissions: frozenset[Permission], role: Role) -> bool:
    """An actor may assign a role only if it holds every permission of that role (api.md §4.3 rule 2)."""
    return ROLE_PERMISSIONS[role] <= actor_permissions
