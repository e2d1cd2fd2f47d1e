"""`whalefall capacity collect|refresh-tables` against a scratch SQLite store (the queued capacity actions)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from whalefall.entrypoints.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in environ_for(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}").items():
        monkeypatch.setenv(key, value)
    # A queued action needs a broker; without one the CLI refuses (QUEUE_UNAVAILABLE, exit 7) before anything runs.
    monkeypatch.setenv("WHALEFALL_REDIS_URL", os.environ.get("WHALEFALL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    return runner


def test_collect_queues_a_session_and_unknown_names_exit_non_zero(cli: CliRunner) -> None:
    added = cli.invoke(app, ["instances", "add", "--name", "billing", "--db-type", "postgresql",
                             "--host", "billing.example.com"])
    assert added.exit_code == 0, added.output
    queued = cli.invoke(app, ["capacity", "collect", "--instance", "BILLING", "--no-tables", "--format", "json"])
    assert queued.exit_code == 0, queued.output
    session = json.loads(queued.stdout)
    assert (session["kind"], session["scope"], session["total"]) == ("capacity_collection", "targeted", 1)
    missing = cli.invoke(app, ["capacity", "collect", "--instance", "nope"])
    assert missing.exit_code == 3 and "RESOURCE_NOT_FOUND" in missing.output
    no_database = cli.invoke(app, ["capacity", "refresh-tables", "--database", "999"])
    assert no_database.exit_code == 3 and "RESOURCE_NOT_FOUND" in no_database.output
