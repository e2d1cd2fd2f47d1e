"""Dashboard routes (api.md §3.18): every section, or one."""

from __future__ import annotations

from typing import Any

import msgspec
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from whalefall.application.dashboard.read_dashboard import SECTIONS, ReadDashboard
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import requires
from whalefall.entrypoints.http.envelope import Envelope, ok


class DashboardOut(msgspec.Struct, kw_only=True):
    """`sections.<name>` is the object GET /dashboard/{name} returns; each has `computed_at`."""

    sections: dict[str, dict[str, Any]]


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["dashboard"]

    @get("/", opt=requires(Permission.DASHBOARD_READ), summary="Every dashboard section",
         description=f"{ReadDashboard.__doc__} Sections today: {', '.join(SECTIONS)}.")
    async def dashboard(self, request: Request[Any, Any, Any], actor: FromDishka[Actor],
                        use_case: FromDishka[ReadDashboard]) -> Response[Envelope[DashboardOut]]:
        return ok(request, DashboardOut(sections=await use_case.execute(actor)))

    @get("/{section:str}", opt=requires(Permission.DASHBOARD_READ), summary="One dashboard section",
         description=ReadDashboard.__doc__)
    async def dashboard_section(self, request: Request[Any, Any, Any], section: FromPath[str],
                                actor: FromDishka[Actor], use_case: FromDishka[ReadDashboard]
                                ) -> Response[Envelope[dict[str, Any]]]:
        return ok(request, (await use_case.execute(actor, section))[section])
