"""Free-text log search reads the message column only (operations.md §12 defect 21, second half): the SQL that
GET /logs?q= sends contains no JSON function or cast over the context."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event

from tests.integration.logs.test_logs_api import iso, seeded  # noqa: F401  (fixture)
from tests.support.http_client import Api, data_of
from whalefall.adapters.persistence.engine import Database
from whalefall.domain.identity.roles import Role

#: What scanning JSON looks like on either store: casts, operators and functions over the context document.
JSON_SCAN = re.compile(r"CAST\s*\(|::\s*(json|jsonb|text)\b|->>?|json_extract|json_each|jsonb_|json_|context",
                       re.IGNORECASE)


async def test_defect_21_q_uses_no_json_cast(api: Api, seeded: datetime) -> None:  # noqa: F811
    """Operations defect 21: the statements filtering by `q` never touch the JSON context, yet find the event
    whose message matches."""
    headers = await api.headers(Role.AUDITOR)
    database = await api.container.get(Database)
    sent: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        sent.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        page = data_of(await api.client.get("/api/v1/logs", params={
            "q": "almost", "since": iso(seeded - timedelta(days=3))}, headers=headers))
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", capture)

    assert [item["message"] for item in page["items"]] == ["Disk almost FULL on host"]
    searches = [s for s in sent if "unified_logs" in s and "WHERE" in s.upper()]
    assert searches, sent
    for statement in searches:
        where = statement[statement.upper().index("WHERE"):]
        assert not JSON_SCAN.search(where), where
        assert "message" in where
