"""`GET /metrics` (api.md §3.1, operations.md §9): Prometheus text 0.0.4, no envelope; errors stay JSON."""

from __future__ import annotations

from typing import Final

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get

from whalefall.application.ports.metrics import MetricsExposition
from whalefall.domain.identity.roles import Permission
from whalefall.entrypoints.http.auth import PUBLIC, requires

# Litestar appends `; charset=utf-8` to text media types itself.
PROMETHEUS_MEDIA_TYPE: Final = "text/plain; version=0.0.4"


def metrics_controller(*, public: bool) -> type[Controller]:
    """The metrics route; `metrics:read` unless `WHALEFALL_METRICS_PUBLIC=true` makes it public."""
    permission = PUBLIC if public else Permission.METRICS_READ

    class MetricsController(Controller):
        path = "/metrics"
        tags = ["system"]

        @get("/", opt=requires(permission), summary="Prometheus metrics (text exposition 0.0.4)",
             media_type=PROMETHEUS_MEDIA_TYPE)
        async def metrics(self, exposition: FromDishka[MetricsExposition]) -> Response[str]:
            return Response(await exposition.render(), media_type=PROMETHEUS_MEDIA_TYPE,
                            headers={"Cache-Control": "no-store"})

    return MetricsController
