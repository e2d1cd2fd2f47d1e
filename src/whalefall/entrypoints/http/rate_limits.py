"""Which api.md §4.8 limit an HTTP route counts against, decided in one place from its method and path template."""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from litestar.connection import ASGIConnection

from whalefall.application.identity.request_limits import LimitedAction, PrincipalRateLimits
from whalefall.application.shared.actor import Actor

_A = LimitedAction
#: Routes with a limit of their own; every other authenticated route counts against the general budget, and
#: every `GET …/exports` against the export limit (so an export added later cannot forget it).
ROUTE_LIMITS: Final[Mapping[tuple[str, str], LimitedAction]] = MappingProxyType({
    ("POST", "/api/v1/auth/password"): _A.PASSWORD_CHANGE,
    ("POST", "/api/v1/instances/{instance_id}/actions/test-connection"): _A.CONNECTION_TEST,
    ("POST", "/api/v1/instances/actions/test-connections"): _A.CONNECTION_TEST,
    ("POST", "/api/v1/rules/actions/dry-run"): _A.RULE_EVALUATION,
    ("POST", "/api/v1/rules/actions/explain"): _A.RULE_EVALUATION,
    ("GET", "/api/v1/rules/{rule_id}/explain"): _A.RULE_EVALUATION,
})
#: The path parameter naming the limit's subject: connection tests are limited per instance.
SUBJECT_PARAMS: Final = MappingProxyType({"/api/v1/instances/{instance_id}/actions/test-connection": "instance_id"})
#: Counted per listed instance by the handler itself (the ids are in the body, which a guard does not read).
COUNTED_BY_HANDLER: Final = frozenset({("POST", "/api/v1/instances/actions/test-connections")})
_TYPED_PARAM: Final = re.compile(r"\{(\w+):\w+\}")


def plain_template(path: str) -> str:
    """`/users/{user_id:int}` → `/users/{user_id}`."""
    return _TYPED_PARAM.sub(r"{\1}", path)


def action_of(method: str, template: str) -> LimitedAction:
    """The limit a request to this route counts against."""
    key = (method.upper(), plain_template(template))
    if key in ROUTE_LIMITS:
        return ROUTE_LIMITS[key]
    if key[0] == "GET" and key[1].endswith("/exports"):
        return LimitedAction.EXPORT
    return LimitedAction.REQUEST


async def enforce_request_limit(connection: ASGIConnection[Any, Any, Any, Any], actor: Actor,
                                limits: PrincipalRateLimits) -> None:
    """Count an authenticated request against its route's limit (429 RATE_LIMIT_EXCEEDED with Retry-After when
    over it). Each request counts against exactly one limit: a route with its own limit is not also counted in
    the general budget."""
    method = str(connection.scope.get("method", "GET"))
    template = plain_template(str(connection.scope.get("path_template") or connection.url.path))
    if (method, template) in COUNTED_BY_HANDLER:
        return
    action = action_of(method, template)
    param = SUBJECT_PARAMS.get(template)
    subject = str(connection.path_params.get(param)) if param is not None else None
    await limits.check(actor, action, subject=subject)
