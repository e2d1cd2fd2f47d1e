"""The `whalefall` command line against a scratch SQLite store (api.md §4.4 first admin; capacity.md §1.1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from whalefall.entrypoints.cli.main import app

ADMIN_PASSWORD = "Whale-Keeper-Passphrase-1"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in environ_for(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("WHALEFALL_ADMIN_PASSWORD", ADMIN_PASSWORD)
    return CliRunner()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


def test_upgrade_create_admin_and_instances(cli: CliRunner) -> None:
    assert "metadata store at revision" in _ok(cli, "db", "upgrade")
    assert "(was " in _ok(cli, "db", "upgrade")
    created = _ok(cli, "users", "create-admin", "--username", "root")
    assert "created admin 'root'" in created and ADMIN_PASSWORD not in created

    again = cli.invoke(app, ["users", "create-admin", "--username", "ROOT"])
    assert again.exit_code != 0
    assert "ALREADY_EXISTS" in again.output and ADMIN_PASSWORD not in again.output

    shown = json.loads(_ok(cli, "instances", "add", "--name", "billing", "--db-type", "postgresql",
                           "--host", "[2001:db8::1]", "--format", "json"))
    assert (shown["name"], shown["host"], shown["port"]) == ("billing", "2001:db8::1", 5432)
    _ok(cli, "instances", "add", "--name", "ora", "--db-type", "oracle", "--host", "ora.example.com",
        "--database-name", "orcl.example.com")
    listed = json.loads(_ok(cli, "instances", "list", "--format", "json"))
    assert [row["name"] for row in listed] == ["billing", "ora"]
    detail = json.loads(_ok(cli, "instances", "show", str(shown["id"]), "--format", "json"))
    assert detail["id"] == shown["id"] and detail["deleted_at"] is None and detail["created_at"].endswith("Z")
    filtered = json.loads(_ok(cli, "instances", "list", "--format", "json", "--db-type", "oracle"))
    assert [row["database_name"] for row in filtered] == ["orcl.example.com"]


def test_second_create_admin_changes_nothing(cli: CliRunner, tmp_path: Path) -> None:
    import sqlite3

    _ok(cli, "db", "upgrade")
    _ok(cli, "users", "create-admin")
    with sqlite3.connect(tmp_path / "cli.db") as db:
        before = db.execute("SELECT id, username, password_hash, revision FROM users").fetchall()
        audits = db.execute("SELECT COUNT(*) FROM audit_events WHERE action = 'user.create'").fetchone()
    result = cli.invoke(app, ["users", "create-admin"], env={"WHALEFALL_ADMIN_PASSWORD": "Other-Passphrase-22"})
    assert result.exit_code == 4
    with sqlite3.connect(tmp_path / "cli.db") as db:
        assert db.execute("SELECT id, username, password_hash, revision FROM users").fetchall() == before
        assert db.execute("SELECT COUNT(*) FROM audit_events WHERE action = 'user.create'").fetchone() == audits
    assert [row[1] for row in before] == ["admin"]


def test_weak_admin_password_is_refused(cli: CliRunner) -> None:
    _ok(cli, "db", "upgrade")
    result = cli.invoke(app, ["users", "create-admin"], env={"WHALEFALL_ADMIN_PASSWORD": "short"})
    assert result.exit_code != 0 and "PASSWORD_POLICY_VIOLATION" in result.output


def test_bad_db_type_and_bad_host_exit_non_zero_with_a_clear_message(cli: CliRunner) -> None:
    _ok(cli, "db", "upgrade")
    bad_type = cli.invoke(app, ["instances", "add", "--name", "x", "--db-type", "mariadb", "--host", "h.example.com"])
    assert bad_type.exit_code == 2
    assert "--db-type" in bad_type.output and "mariadb" in bad_type.output
    bad_host = cli.invoke(app, ["instances", "add", "--name", "x", "--db-type", "mysql", "--host", "not a host"])
    assert bad_host.exit_code == 2
    assert "--host" in bad_host.output and "invalid_format" in bad_host.output
    missing = cli.invoke(app, ["instances", "show", "999"])
    assert missing.exit_code == 3 and "RESOURCE_NOT_FOUND" in missing.output
    assert json.loads(_ok(cli, "instances", "list", "--format", "json")) == []
