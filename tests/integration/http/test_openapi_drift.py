"""API legacy defect 36 (documentation drift: a hand-written contract that diverged from the code): the OpenAPI
document is generated from the LIVE route table, so every route with its method, every path parameter and every
declared query parameter is in it, and it names no operation the app does not serve."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from tests.support.http_client import Api

_PARAMETER: Final = re.compile(r"\{(\w+)(?::\w+)?\}")
#: Litestar-generated OPTIONS/HEAD handlers and the schema's own routes are not operations of §3.
_UNDOCUMENTED_METHODS: Final = frozenset({"OPTIONS"})


def _live_operations(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(method, OpenAPI path template, handler) for every handler that declares a permission (every §3 route)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if isinstance(handler, HTTPRouteHandler) and handler.opt.get("permission") is not None:
                for method in handler.http_methods - _UNDOCUMENTED_METHODS:
                    yield method, _PARAMETER.sub(r"{\1}", route.path), handler


async def test_the_openapi_document_lists_every_live_route_and_parameter(api: Api) -> None:
    """Defect 36."""
    document = (await api.client.get("/api/v1/schema/openapi.json")).json()
    paths: dict[str, dict[str, dict[str, object]]] = document["paths"]
    live = list(_live_operations(api.app))
    assert len(live) > 50, "the route walk found too few routes"
    missing: list[str] = []
    checked = 0
    for method, path, handler in live:
        operation = paths.get(path, {}).get(method.lower())
        if operation is None:
            if method != "HEAD":
                missing.append(f"{method} {path}")
            continue
        documented = {(str(p["in"]), str(p["name"])) for p in operation.get("parameters", [])  # type: ignore[union-attr]
                      if isinstance(p, dict)}
        for name in re.findall(r"\{(\w+)\}", path):
            checked += 1
            if ("path", name) not in documented:
                missing.append(f"{method} {path}: path parameter {name}")
        for name, field in handler.parsed_fn_signature.parameters.items():
            query = field.kwarg_definition
            alias = getattr(query, "query", None) if query is not None else None
            if alias and ("query", alias) not in documented:
                missing.append(f"{method} {path}: query parameter {alias} ({name})")
    assert missing == []
    assert checked > 20, "the walk checked too few path parameters"
    served = {(m.lower(), p) for m, p, _ in live}
    documented_operations = {(m, p) for p, item in paths.items() for m in item
                             if m in {"get", "post", "put", "patch", "delete"}}
    phantom = sorted(f"{m.upper()} {p}" for m, p in documented_operations - served
                     if not p.startswith("/api/v1/schema"))
    assert phantom == []
