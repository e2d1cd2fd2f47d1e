"""`whalefall accounts filters-show|filters-set|filters-clear`: per-instance account filter overrides."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from whalefall.entrypoints.cli.main import app


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in environ_for(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}").items():
        monkeypatch.setenv(key, value)
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


def test_set_show_and_clear_an_override(cli: CliRunner, tmp_path: Path) -> None:
    _ok(cli, "db", "upgrade")
    instance = json.loads(_ok(cli, "instances", "add", "--name", "pg", "--db-type", "postgresql", "--host",
                              "pg.example.com", "--format", "json"))["id"]

    shown = json.loads(_ok(cli, "accounts", "filters-show", str(instance), "--format", "json"))
    assert shown["source"] == "settings" and "pg_*" in shown["exclude"]

    assert "2 pattern(s)" in _ok(cli, "accounts", "filters-set", str(instance), "--exclude", "pg_*",
                                 "--exclude", "svc_?")
    shown = json.loads(_ok(cli, "accounts", "filters-show", str(instance), "--format", "json"))
    assert (shown["source"], shown["exclude"], shown["updated_by"]) == ("instance", ["pg_*", "svc_?"], "cli")

    bad = cli.invoke(app, ["accounts", "filters-set", str(instance), "--exclude", " "])
    assert bad.exit_code != 0 and "--exclude[0]" in bad.output
    missing = cli.invoke(app, ["accounts", "filters-set", "424242"])
    assert missing.exit_code != 0 and "NOT_FOUND" in missing.output

    assert "removed" in _ok(cli, "accounts", "filters-clear", str(instance))
    assert "was not set" in _ok(cli, "accounts", "filters-clear", str(instance))
    assert json.loads(_ok(cli, "accounts", "filters-show", str(instance), "--format", "json"))["source"] == "settings"
    with sqlite3.connect(tmp_path / "cli.db") as db:
        events = db.execute("SELECT action, target_id FROM audit_events WHERE action = 'instance.update'").fetchall()
    assert events == [("instance.update", str(instance))] * 2
