"""`whalefall capacity collect --wait` without Redis: the command runs the embedded in-process worker and follows
the collection session to its end against the real local PostgreSQL server (capacity.md §4, api.md §3.10)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from whalefall.application.instances.credentials import CreateCredential, CreateCredentialInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.cli.main import app
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings

PG_HOST, PG_PORT = "127.0.0.1", 5432


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


async def _credential() -> int:
    """A credential for the local trust-auth `postgres` login (the secret is required but not checked)."""
    container = make_container(Settings.from_environ())
    try:
        async with container() as scope:
            created = await (await scope.get(CreateCredential)).execute(CreateCredentialInput(
                actor=Actor.system("wf_w2_test"), name="wf_w2_pg", username="postgres",
                secret="wf-w2-Unused-Secret-1", db_type=DbEngine.POSTGRESQL))
        return int(created.id)
    finally:
        await container.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    try:
        psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable ({exc})")
    for key, value in environ_for(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}").items():
        monkeypatch.setenv(key, value)
    # No broker: the in-memory queue only works inside this process, so --wait must run the worker here.
    for key in ("WHALEFALL_REDIS_URL", "WHALEFALL_BROKER_URL"):
        monkeypatch.delenv(key, raising=False)
    runner = CliRunner()
    _ok(runner, "db", "upgrade")
    return runner


def test_capacity_collect_wait_runs_the_embedded_worker(cli: CliRunner, tmp_path: Path) -> None:
    credential = asyncio.run(_credential())
    _ok(cli, "instances", "add", "--name", "wf-w2-pg", "--db-type", "postgresql", "--host", PG_HOST,
        "--port", str(PG_PORT), "--database-name", "postgres", "--credential-id", str(credential))

    collected = json.loads(_ok(cli, "capacity", "collect", "--instance", "wf-w2-pg", "--no-tables", "--wait",
                               "--timeout", "120", "--format", "json"))

    assert (collected["kind"], collected["status"], collected["total"], collected["succeeded"]) == (
        "capacity_collection", "completed", 1, 1)
    with sqlite3.connect(tmp_path / "cli.db") as store:
        [(databases,)] = store.execute("SELECT count(*) FROM instance_databases WHERE name = 'postgres'").fetchall()
        [(total,)] = store.execute("SELECT total_bytes FROM instance_size_samples").fetchall()
    assert databases == 1 and total > 0

    # An instance without a credential fails its record: --wait then exits 8 with the ended session on stdout.
    _ok(cli, "instances", "add", "--name", "wf-w2-nocred", "--db-type", "postgresql", "--host", "nocred.example.com")
    fleet = cli.invoke(app, ["capacity", "collect", "--wait", "--timeout", "120", "--format", "json"])
    assert fleet.exit_code == 8, fleet.output
    outcome = json.loads(fleet.stdout)
    assert (outcome["total"], outcome["succeeded"], outcome["failed"]) == (2, 1, 1)
    assert outcome["status"] == "partial"
