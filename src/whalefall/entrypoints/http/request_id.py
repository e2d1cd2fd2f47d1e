"""X-Request-ID: reuse a well-formed client value, else generate `req_` + 32 hex; bound to every log line."""

from __future__ import annotations

import re
import uuid
from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bind_contextvars as bind_log_context
from structlog.contextvars import clear_contextvars as clear_log_context

REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def new_request_id(candidate: str | None) -> str:
    if candidate and REQUEST_ID.match(candidate):
        return candidate
    return f"req_{uuid.uuid4().hex}"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Outermost ASGI wrapper: stores the id in `scope["state"]` and adds the response header."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        raw = headers.get(b"x-request-id")
        request_id = new_request_id(raw.decode("latin-1") if raw else None)
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        clear_log_context()
        bind_log_context(request_id=request_id)
        try:
            await app(scope, receive, send_with_id)
        finally:
            clear_log_context()

    return middleware
