"""Answers of queued actions (api.md §1.13): the session receipt, 202 with `Location` pointing at the session."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response

from whalefall.application.ports.sessions import SessionView
from whalefall.entrypoints.http.envelope import Envelope, ok

SESSIONS_PATH = "/api/v1/sync-sessions"


class SessionReceiptOut(msgspec.Struct, kw_only=True):
    session_id: str
    kind: str
    scope: str
    status: str
    record_count: int
    status_url: str

    @classmethod
    def of(cls, session: SessionView) -> SessionReceiptOut:
        return cls(session_id=session.id, kind=session.kind.value, scope=session.scope.value,
                   status=session.status.value, record_count=session.total,
                   status_url=f"{SESSIONS_PATH}/{session.id}")


def session_receipt(request: Request[Any, Any, Any], session: SessionView, *,
                    message: str = "Queued") -> Response[Envelope[SessionReceiptOut]]:
    """202 with the receipt in `data` and `Location: /api/v1/sync-sessions/{id}`."""
    receipt = SessionReceiptOut.of(session)
    return ok(request, receipt, message=message, status_code=202, location=receipt.status_url)
