"""The route table of api.md §3 for the routes of the foundation, shared by the permission tests."""

from __future__ import annotations

import re
from typing import Final

from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC

#: api.md §3.1–3.7, for the routes that exist today.
EXPECTED: Final = {
    ("GET", "/api/v1"): PUBLIC,
    ("GET", "/api/v1/health/live"): PUBLIC,
    ("GET", "/api/v1/health/ready"): PUBLIC,
    ("HEAD", "/api/v1/health/live"): PUBLIC,
    ("HEAD", "/api/v1/health/ready"): PUBLIC,
    ("GET", "/api/v1/health/details"): "system:read",
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/refresh"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): AUTHENTICATED,
    ("GET", "/api/v1/auth/me"): AUTHENTICATED,
    ("PATCH", "/api/v1/auth/me"): AUTHENTICATED,
    ("POST", "/api/v1/auth/password"): AUTHENTICATED,
    ("GET", "/api/v1/auth/permissions"): AUTHENTICATED,
    ("GET", "/api/v1/users"): "users:read",
    ("POST", "/api/v1/users"): "users:manage",
    ("GET", "/api/v1/users/{user_id}"): "users:read",
    ("PATCH", "/api/v1/users/{user_id}"): "users:manage",
    ("DELETE", "/api/v1/users/{user_id}"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/actions/reset-password"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/actions/unlock"): "users:manage",
    ("POST", "/api/v1/users/{user_id}/actions/revoke-sessions"): "users:manage",
    ("GET", "/api/v1/instances"): "instances:read",
    ("POST", "/api/v1/instances"): "instances:write",
    ("GET", "/api/v1/instances/{instance_id}"): "instances:read",
    ("PATCH", "/api/v1/instances/{instance_id}"): "instances:write",
    ("DELETE", "/api/v1/instances/{instance_id}"): "instances:write",
    ("POST", "/api/v1/instances/{instance_id}/actions/restore"): "instances:write",
    ("POST", "/api/v1/instances/{instance_id}/actions/purge"): "system:manage",
    ("POST", "/api/v1/instances/{instance_id}/actions/test-connection"): "instances:write",
    ("POST", "/api/v1/instances/actions/test-connections"): "instances:write",
    ("GET", "/api/v1/credentials"): "credentials:read",
    ("POST", "/api/v1/credentials/actions/rotate-keys"): "system:manage",
    ("POST", "/api/v1/credentials"): "credentials:write",
    ("GET", "/api/v1/credentials/{credential_id}"): "credentials:read",
    ("PATCH", "/api/v1/credentials/{credential_id}"): "credentials:write",
    ("PUT", "/api/v1/credentials/{credential_id}/secret"): "credentials:write",
    ("DELETE", "/api/v1/credentials/{credential_id}"): "credentials:write",
    ("GET", "/api/v1/tags"): "instances:read",
    ("GET", "/api/v1/tags/categories"): "instances:read",
    ("POST", "/api/v1/tags"): "tags:write",
    ("GET", "/api/v1/tags/{tag_id}"): "instances:read",
    ("PATCH", "/api/v1/tags/{tag_id}"): "tags:write",
    ("DELETE", "/api/v1/tags/{tag_id}"): "tags:write",
    ("POST", "/api/v1/tags/actions/bulk-assign"): "tags:write",
    ("POST", "/api/v1/tags/actions/bulk-remove"): "tags:write",
    ("POST", "/api/v1/tags/actions/bulk-clear"): "tags:write",
    ("GET", "/api/v1/accounts/exports"): "accounts:read",
    ("GET", "/api/v1/account-changes/exports"): "accounts:read",
    ("GET", "/api/v1/classifications/statistics"): "classifications:read",
    ("GET", "/api/v1/classifications/statistics/trend"): "classifications:read",
    # api.md §3.5, §3.10, §3.11: capacity collection, table sizes and CSV exports (engineer H5).
    ("POST", "/api/v1/instances/{instance_id}/actions/sync-capacity"): "sync:run",
    ("POST", "/api/v1/capacity/actions/collect"): "sync:run",
    ("POST", "/api/v1/databases/{database_id}/actions/refresh-table-sizes"): "sync:run",
    ("GET", "/api/v1/databases/exports"): "instances:read",
    ("GET", "/api/v1/capacity/databases/exports"): "capacity:read",
    ("GET", "/api/v1/capacity/instances/exports"): "capacity:read",
}

#: Routes a user who must change the password may still call (api.md §4.4).
PASSWORD_CHANGE_EXEMPT: Final = {("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/password"),
                                 ("POST", "/api/v1/auth/logout")}


def concrete(path: str, value: int = 999999) -> str:
    """A request path for a route template (every path parameter set to `value`)."""
    return re.sub(r"\{\w+\}", str(value), path)
