"""The one exception mapping of the HTTP entrypoint: families → status, codes from the exception (STYLE.md §6)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
)
from litestar.exceptions import (
    ValidationException as LitestarValidationException,
)

from whalefall.application.errors import (
    AccountDisabledError,
    AlreadyRunningError,
    AuthenticationError,
    InteractiveAuthRequiredError,
    PasswordChangeRequiredError,
    QueueUnavailableError,
    RateLimitedError,
    StoreUnavailableError,
)
from whalefall.domain.errors import (
    AlreadyExistsError,
    InUseError,
    InvalidStateError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    UnprocessableError,
    ValidationProblemsError,
    WhalefallError,
)
from whalefall.entrypoints.http.envelope import ErrorDetailOut, ErrorEnvelope, server_time

logger = logging.getLogger("whalefall.entrypoints.http.errors")

_STATUS: Final[Mapping[type[WhalefallError], int]] = MappingProxyType({
    ValidationProblemsError: 400, AuthenticationError: 401, PermissionDeniedError: 403,
    AccountDisabledError: 403, PasswordChangeRequiredError: 403, InteractiveAuthRequiredError: 403,
    NotFoundError: 404, AlreadyExistsError: 409, InUseError: 409, InvalidStateError: 409, AlreadyRunningError: 409,
    UnprocessableError: 422, RateLimitedError: 429, QueueUnavailableError: 503, StoreUnavailableError: 503,
})

GENERIC_MESSAGE: Final = "An unexpected error occurred"


def status_of(exc: WhalefallError) -> int:
    """First family on the class's MRO wins; anything unmapped is a 500 with a generic message."""
    return next((_STATUS[c] for c in type(exc).__mro__ if c in _STATUS), 500)


def _request_id(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


def error_response(request: Request[Any, Any, Any], *, status: int, code: str, message: str,
                   problems: tuple[Problem, ...] | list[Problem] = (),
                   headers: dict[str, str] | None = None) -> Response[ErrorEnvelope]:
    details = [ErrorDetailOut(field=p.field, code=p.code, message=p.message,
                              context=dict(p.context) if p.context else None) for p in problems]
    body = ErrorEnvelope(message=message, timestamp=server_time(request), code=code, details=details,
                         request_id=_request_id(request))
    return Response(body, status_code=status, headers=headers)


def handle_whalefall_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    assert isinstance(exc, WhalefallError)
    status = status_of(exc)
    if status >= 500:
        logger.error("http.unhandled_error", exc_info=exc)
        headers = {"Retry-After": "5"} if status == 503 else None
        message = exc.message if status == 503 else GENERIC_MESSAGE
        code = exc.code if status == 503 else "INTERNAL_ERROR"
        return error_response(request, status=status, code=code, message=message, headers=headers)
    headers = None
    if isinstance(exc, RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return error_response(request, status=status, code=exc.code, message=exc.message, problems=exc.problems,
                          headers=headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """Litestar's own exceptions (routing, media types, sizes) in our envelope."""
    assert isinstance(exc, HTTPException)
    if isinstance(exc, MethodNotAllowedException):
        allow = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow") or ""
        return error_response(request, status=405, code="METHOD_NOT_ALLOWED", message="Method not allowed",
                              headers={"Allow": allow} if allow else None)
    if isinstance(exc, NotFoundException):
        return error_response(request, status=404, code="ROUTE_NOT_FOUND", message="No such route")
    if exc.status_code == 413:
        return error_response(request, status=413, code="PAYLOAD_TOO_LARGE", message="The request body is too large")
    if exc.status_code == 415:
        return error_response(request, status=415, code="UNSUPPORTED_MEDIA_TYPE",
                              message="Content-Type must be application/json")
    if isinstance(exc, LitestarValidationException | ClientException) and exc.status_code == 400:
        # Our validator runs first and reports every problem; reaching here means a shape it did not cover.
        return error_response(request, status=400, code="VALIDATION_ERROR", message="The request is invalid",
                              problems=[Problem(None, "invalid", "the request does not match the schema")])
    if exc.status_code >= 500:
        logger.error("http.unhandled_error", exc_info=exc)
        return error_response(request, status=500, code="INTERNAL_ERROR", message=GENERIC_MESSAGE)
    return error_response(request, status=exc.status_code, code="VALIDATION_ERROR", message="The request is invalid")


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorEnvelope]:
    """Anything else: logged with its traceback under the request id; the body says nothing about it."""
    logger.error("http.unhandled_error", exc_info=exc)
    return error_response(request, status=500, code="INTERNAL_ERROR", message=GENERIC_MESSAGE)


EXCEPTION_HANDLERS: Final[dict[int | type[Exception], Callable[[Request[Any, Any, Any], Any], Response[Any]]]] = {
    WhalefallError: handle_whalefall_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
