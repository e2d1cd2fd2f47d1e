"""Legacy defects of api.md §6 proved over the LIVE route table and OpenAPI document, so that a route added later is
covered without editing a list: 8 (every write route refuses a viewer), 22 (every list route pages the same way),
27 and 32 (the schema has only RFC 3339 instants and dates, snake_case keys, no `*_mb`, no nested `data`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any, Final

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from tests.support.http_client import Api, data_of, error_of
from whalefall.domain.identity.roles import ROLE_PERMISSIONS, Role
from whalefall.entrypoints.http.auth import AUTHENTICATED, PUBLIC

UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE_KEYS: Final = {"items", "total", "page", "limit", "pages"}
_PARAMETER: Final = re.compile(r"\{(\w+):(\w+)\}")
_SAMPLE: Final = {"int": "999999", "uuid": str(uuid.UUID(int=1)), "str": "x", "path": "x"}


def _concrete(path: str) -> str:
    return _PARAMETER.sub(lambda m: _SAMPLE.get(m.group(2), "x"), path)


def _handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, path template, handler) for every route handler that declares a permission."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.opt.get("permission") is not None:
                for method in handler.http_methods:
                    yield method, route.path, handler


async def test_every_write_route_refuses_a_viewer(api: Api) -> None:
    """Defect 8: no UI involved; every unsafe route whose permission the viewer role lacks answers 403."""
    viewer = await api.headers(Role.VIEWER)
    granted = {p.value for p in ROLE_PERMISSIONS[Role.VIEWER]}
    checked = []
    for method, path, handler in _handlers(api.app):
        permission = handler.opt["permission"]
        if method not in UNSAFE or permission in (PUBLIC, AUTHENTICATED) or permission in granted:
            continue
        response = await api.client.request(method, _concrete(path), headers=viewer, json={})
        body = error_of(response, 403, "PERMISSION_DENIED")
        assert body["details"][0]["context"] == {"permission": permission}, (method, path)
        checked.append((method, path))
    assert len(checked) >= 50, checked  # the whole catalogue (58 routes when written), not a sample
    denied = await api.rows("SELECT actor_id FROM audit_events WHERE outcome = 'denied'")
    assert len(denied) == len(checked)  # each refusal audited once (api.md §4.9)


async def test_every_list_route_pages_the_same_way(api: Api) -> None:
    """Defect 22: `limit=201` and `limit=0` → 400 naming `query.limit`; `data` keys are exactly the page keys."""
    admin = await api.headers(Role.ADMIN)
    lists = [(path, handler) for method, path, handler in _handlers(api.app)
             if method == "GET" and "limit" in handler.parsed_fn_signature.parameters]
    assert len(lists) >= 20, [p for p, _ in lists]
    for path, _ in lists:
        url = _concrete(path)
        for limit, code in (("201", "too_large"), ("0", "too_small")):
            body = error_of(await api.client.get(url, params={"limit": limit}, headers=admin), 400,
                            "VALIDATION_ERROR")
            assert ("query.limit", code) in [(d["field"], d["code"]) for d in body["details"]], (path, body)
        if "{" not in path:
            response = await api.client.get(url, headers=admin)
            if response.status_code == 200 and response.headers["content-type"].startswith("application/json"):
                assert set(data_of(response)) == PAGE_KEYS, path


def _properties(node: Any, path: str = "") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(schema path, property name, property schema) for every property anywhere in the document."""
    if isinstance(node, dict):
        for name, schema in (node.get("properties") or {}).items():
            if isinstance(schema, dict):
                yield path, name, schema
        for key, value in node.items():
            yield from _properties(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _properties(value, f"{path}[{index}]")


def _formats(schema: dict[str, Any]) -> set[str]:
    found = {schema["format"]} if "format" in schema else set()
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(option, dict) and "format" in option:
            found.add(option["format"])
    return found


def _types(schema: dict[str, Any]) -> set[str]:
    options = [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]
    return {str(o["type"]) for o in options if isinstance(o, dict) and isinstance(o.get("type"), str)}


async def test_the_schema_has_one_time_format_and_one_key_style(api: Api) -> None:
    """Defects 27 and 32: every `*_at` (and `ts`) is an RFC 3339 `date-time`, every `*_on` a `date`; no time-only or
    epoch formats; every key is snake_case; no `*_mb` field; `data` only at the envelope's top level."""
    document = (await api.client.get("/api/v1/schema/openapi.json")).json()
    properties = list(_properties(document["components"]["schemas"]))
    assert len(properties) > 200
    for where, name, schema in properties:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), (where, name)
        assert not name.endswith("_mb"), (where, name)
        formats = _formats(schema)
        if name.endswith("_at") or name in {"ts"}:
            assert "date-time" in formats, (where, name, schema)
        assert not formats & {"time", "timestamp", "unix-time"}, (where, name)
        if name.endswith("_on") and "string" in _types(schema):  # `depends_on` (a list of step names) is no date
            assert "date" in formats, (where, name, schema)
        if name == "data":
            assert where.count("/properties") == 0, where
    envelopes = [s for s in document["components"]["schemas"].values()
                 if isinstance(s, dict) and "data" in (s.get("properties") or {})]
    assert envelopes and all("success" in s["properties"] for s in envelopes)
