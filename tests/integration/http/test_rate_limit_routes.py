"""The route → limit table of api.md §4.8 matches the live routes: every named route exists, every CSV export
counts against the export limit, everything else against the general budget."""

from __future__ import annotations

from pathlib import Path

from tests.integration.http.test_route_permissions import route_table
from tests.support.http_client import make_settings, running_api
from whalefall.application.identity.request_limits import LimitedAction
from whalefall.entrypoints.http.rate_limits import COUNTED_BY_HANDLER, ROUTE_LIMITS, SUBJECT_PARAMS, action_of


async def test_the_limit_table_names_live_routes_and_covers_every_export(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")
    async with running_api(settings) as running:
        table = route_table(running.app)
    assert set(ROUTE_LIMITS) <= set(table), sorted(set(ROUTE_LIMITS) - set(table))
    assert set(ROUTE_LIMITS) >= COUNTED_BY_HANDLER
    assert all(("POST", path) in table for path in SUBJECT_PARAMS)
    exports = {key for key in table if key[0] == "GET" and key[1].endswith("/exports")}
    assert len(exports) >= 2 and all(action_of(*key) is LimitedAction.EXPORT for key in exports)
    assert action_of("GET", "/api/v1/rules/{rule_id:int}/explain") is LimitedAction.RULE_EVALUATION
    assert action_of("POST", "/api/v1/auth/password") is LimitedAction.PASSWORD_CHANGE
    others = [key for key in table if key not in ROUTE_LIMITS and key not in exports]
    assert others and all(action_of(*key) is LimitedAction.REQUEST for key in others)
