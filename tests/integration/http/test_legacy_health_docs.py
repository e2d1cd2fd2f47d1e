"""Health is documented where it is served (operations.md §12 defect 24, last part): every `/api/v1/health/...`
path named in the README or docs/ is a live route (never 404/405), and the probes answer at their spec paths."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.http_client import Api

ROOT = Path(__file__).resolve().parents[3]
HEALTH_PATH = re.compile(r"/api/v1/health/[a-z_]+")


def documented_health_paths() -> set[str]:
    texts = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return {m.group(0) for path in texts if path.is_file() for m in HEALTH_PATH.finditer(path.read_text())}


async def test_defect_24_every_documented_health_path_is_served(api: Api) -> None:
    """Operations defect 24: the README once documented health at a path that did not exist."""
    documented = documented_health_paths()
    assert {"/api/v1/health/live", "/api/v1/health/ready"} <= documented
    for path in sorted(documented):
        response = await api.client.get(path)
        assert response.status_code not in (404, 405), (path, response.status_code)
    assert (await api.client.get("/api/v1/health/live")).status_code == 200
