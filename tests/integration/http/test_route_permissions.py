"""Every registered route declares its permission explicitly, matching api.md §3 (§4.2, §6 defects 5, 6, 8)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from tests.support.http_client import Api, error_of, make_settings, running_api
from tests.support.routes import EXPECTED, concrete
from whalefall.domain.identity.roles import Permission, Role
from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC

PUBLIC_ROUTES: Final = {
    ("GET", "/api/v1"), ("GET", "/api/v1/health/live"), ("GET", "/api/v1/health/ready"),
    ("HEAD", "/api/v1/health/live"), ("HEAD", "/api/v1/health/ready"),
    ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
}
#: §4.2 also makes the browser login public; it arrives with the session slice.
PUBLIC_LATER: Final = {("POST", "/api/v1/auth/session")}
SCHEMA_PREFIX: Final = "/api/v1/schema"

#: Rows of §3.1, §3.5 and §3.6 that later slices add; checked when they exist.
LATER: Final = {
    ("GET", "/api/v1/health/details"): "system:read",
    ("POST", "/api/v1/auth/session"): PUBLIC,
    ("DELETE", "/api/v1/auth/session"): AUTHENTICATED,  # "cookie session"
    ("GET", "/api/v1/metrics"): "metrics:read",
    ("POST", "/api/v1/instances/{instance_id}/actions/test-connection"): "instances:write",
    ("POST", "/api/v1/instances/actions/test-connections"): "instances:write",
    ("POST", "/api/v1/instances/{instance_id}/actions/sync-accounts"): "sync:run",
    ("POST", "/api/v1/instances/actions/sync-accounts"): "sync:run",
    ("POST", "/api/v1/instances/{instance_id}/actions/sync-capacity"): "sync:run",
    ("POST", "/api/v1/instances/imports"): "instances:write",
    ("GET", "/api/v1/instances/imports/template"): "instances:read",
    ("GET", "/api/v1/instances/exports"): "instances:read",
    ("POST", "/api/v1/credentials/actions/rotate-keys"): "system:manage",
}


def _plain(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def route_table(app: Litestar) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) → handler opt for every handler of every HTTP route. OPTIONS handlers Litestar generates
    for preflight are left out: they are not routes of §3 and the guard never sees a principal on them."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"unexpected route kind {type(route).__name__} at {route.path}"
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method == "OPTIONS" and handler.opt.get("permission") is None:
                    continue
                table[(method, _plain(route.path))] = dict(handler.opt)
    return table


@pytest.fixture(params=["public", "authenticated", "off"])
async def docs_app(request: pytest.FixtureRequest, tmp_path: Path) -> Litestar:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}",
                             WHALEFALL_API_DOCS=request.param)
    async with running_api(settings) as running:
        return running.app


def test_every_route_declares_a_real_permission(docs_app: Litestar) -> None:
    table = route_table(docs_app)
    valid = {p.value for p in Permission} | {PUBLIC, AUTHENTICATED}
    missing = sorted(key for key, opt in table.items() if opt.get("permission") is None)
    assert missing == []
    unknown = {key: opt["permission"] for key, opt in table.items() if opt["permission"] not in valid}
    assert unknown == {}


def test_public_routes_are_exactly_the_allow_list(docs_app: Litestar) -> None:
    table = route_table(docs_app)
    docs = docs_app.openapi_config is not None and any(
        opt["permission"] == PUBLIC for (_m, path), opt in table.items() if path.startswith(SCHEMA_PREFIX))
    public = {key for key, opt in table.items() if opt["permission"] == PUBLIC}
    schema = {key for key in public if key[1].startswith(SCHEMA_PREFIX)}
    metrics = {("GET", "/api/v1/metrics")} & public  # public only when WHALEFALL_METRICS_PUBLIC=true
    assert metrics == set()
    assert public - schema - PUBLIC_LATER == PUBLIC_ROUTES
    assert bool(schema) == docs


def test_permissions_match_the_api_spec(docs_app: Litestar) -> None:
    """Every route of the foundation exists with the permission of §3 (routes of later slices are checked by the
    walk above: they must declare a real permission too)."""
    table = {key: opt["permission"] for key, opt in route_table(docs_app).items()}
    assert {key: table.get(key) for key in EXPECTED} == EXPECTED
    spec = {**EXPECTED, **LATER}
    assert {key: table[key] for key in spec if key in table} == {key: spec[key] for key in spec if key in table}
    foundation = ("/api/v1/auth", "/api/v1/users", "/api/v1/instances", "/api/v1/credentials", "/api/v1/tags",
                  "/api/v1/health")
    unknown = sorted(key for key in table if key[1].startswith(foundation) and key not in spec)
    assert unknown == [], "routes that api.md §3.1–3.7 does not list"


async def test_a_handler_without_permission_is_refused(tmp_path: Path) -> None:
    """The guard fails closed: a route that forgets `opt["permission"]` answers 403 even to an admin."""
    from litestar import get

    from whalefall.entrypoints.http import app as app_module

    @get("/forgotten", sync_to_thread=False)
    def forgotten() -> dict[str, str]:
        return {"leak": "yes"}

    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    async with running_api(settings, reuse_app=False) as running:
        running.app.register(forgotten)
        response = await running.client.get("/forgotten")
        error_of(response, 403, "PERMISSION_DENIED")
        assert "leak" not in response.text
    assert app_module.CONTROLLERS  # the real app is unchanged by the test route


async def test_viewer_cannot_write_anywhere(api: Api) -> None:
    """Every write route of the table refuses a viewer with 403 PERMISSION_DENIED (defect 8)."""
    headers = await api.headers(Role.VIEWER)
    checked = 0
    for (method, path), permission in EXPECTED.items():
        if method == "GET" or permission in (PUBLIC, AUTHENTICATED):
            continue
        response = await api.client.request(method, concrete(path), headers=headers, json={})
        body = error_of(response, 403, "PERMISSION_DENIED")
        assert body["details"][0]["context"] == {"permission": permission}, (method, path)
        checked += 1
    assert checked == 27
    # Refused writes are audited as `denied` in their own transaction (api.md §4.9).
    denied = await api.rows("SELECT actor_id, details FROM audit_events WHERE outcome = 'denied'")
    assert len(denied) == 27 and {row["actor_id"] for row in denied} == {api.user(Role.VIEWER).id}


async def test_operator_cannot_manage_users(api: Api) -> None:
    headers = await api.headers(Role.OPERATOR)
    target = await api.create_user("someone", Role.VIEWER)
    for method, path in [("GET", "/api/v1/users"), ("POST", "/api/v1/users"),
                         ("PATCH", f"/api/v1/users/{target.id}"), ("DELETE", f"/api/v1/users/{target.id}"),
                         ("POST", f"/api/v1/users/{target.id}/actions/reset-password"),
                         ("POST", f"/api/v1/users/{target.id}/actions/unlock"),
                         ("POST", f"/api/v1/users/{target.id}/actions/revoke-sessions")]:
        response = await api.client.request(method, path, headers=headers,
                                            json={"role": "admin"} if method == "PATCH" else None)
        error_of(response, 403, "PERMISSION_DENIED")
