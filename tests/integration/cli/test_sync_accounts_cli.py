"""`whalefall sync accounts --wait` without Redis: the command runs the embedded worker in its own event loop and
follows the session to its end (a real MariaDB instance; one without credential makes the fleet session partial)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pymysql  # type: ignore[import-untyped]
import pytest
from typer.testing import CliRunner

from tests.support.http_client import environ_for
from whalefall.application.instances.credentials import CreateCredential, CreateCredentialInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.cli.main import app
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings

MARIADB_DSN = os.environ.get("WHALEFALL_TEST_MARIADB_DSN", "mysql://root@127.0.0.1:3306/mysql")
COLLECTOR, COLLECTOR_SECRET = "wf_h1_collector", "wf-h1-Collector-Secret-9"
#: The least-privilege MariaDB collector login of accounts.md §2.6.
COLLECTOR_TABLES = ("global_priv", "db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv", "roles_mapping")

pytestmark = pytest.mark.mariadb


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.stdout


async def _credential(username: str, secret: str) -> int:
    container = make_container(Settings.from_environ())
    try:
        async with container() as scope:
            created = await (await scope.get(CreateCredential)).execute(CreateCredentialInput(
                actor=Actor.system("wf_h1_test"), name="wf_h1_mariadb", username=username, secret=secret,
                db_type=DbEngine.MYSQL))
        return int(created.id)
    finally:
        await container.close()


@pytest.fixture
def collector() -> Iterator[tuple[str, int]]:
    """A collector login created for this test (and dropped after it); (host, port) of the server."""
    url = urlsplit(MARIADB_DSN)
    host, port = url.hostname or "127.0.0.1", url.port or 3306
    try:
        admin = pymysql.connect(host=host, port=port, user=unquote(url.username or "root"),
                                password=unquote(url.password or ""), autocommit=True, connect_timeout=3)
    except pymysql.err.OperationalError as exc:
        pytest.skip(f"MariaDB not reachable ({exc}); set WHALEFALL_TEST_MARIADB_DSN")
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{COLLECTOR}'@'%'")
            cursor.execute(f"CREATE USER '{COLLECTOR}'@'%' IDENTIFIED BY '{COLLECTOR_SECRET}'")
            for table in COLLECTOR_TABLES:
                cursor.execute(f"GRANT SELECT ON mysql.{table} TO '{COLLECTOR}'@'%'")
        yield host, port
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP USER IF EXISTS '{COLLECTOR}'@'%'")
        admin.close()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key, value in environ_for(tmp_path / "data", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}").items():
        monkeypatch.setenv(key, value)
    for key in ("WHALEFALL_REDIS_URL", "WHALEFALL_BROKER_URL"):
        monkeypatch.delenv(key, raising=False)
    return CliRunner()


def test_sync_accounts_wait_runs_the_embedded_worker(cli: CliRunner, collector: tuple[str, int]) -> None:
    host, port = collector
    _ok(cli, "db", "upgrade")
    credential = asyncio.run(_credential(COLLECTOR, COLLECTOR_SECRET))
    _ok(cli, "instances", "add", "--name", "wf-h1-mariadb", "--db-type", "mysql", "--host", host,
        "--port", str(port), "--credential-id", str(credential))

    synced = json.loads(_ok(cli, "sync", "accounts", "--instance", "wf-h1-mariadb", "--wait", "--timeout", "120",
                            "--format", "json"))

    assert (synced["status"], synced["total"], synced["succeeded"]) == ("completed", 1, 1)
    accounts = json.loads(_ok(cli, "accounts", "list", "--format", "json"))
    assert accounts and {a["instance"] for a in accounts} == {"wf-h1-mariadb"}
    assert f"{COLLECTOR}@%" in {a["key"] for a in accounts}

    _ok(cli, "instances", "add", "--name", "wf-h1-nocred", "--db-type", "mysql", "--host", "nocred.example.com")
    fleet = cli.invoke(app, ["sync", "accounts", "--timeout", "120", "--format", "json"])  # no --wait: in process
    assert fleet.exit_code == 8, fleet.output
    outcome = json.loads(fleet.stdout)
    assert (outcome["total"], outcome["succeeded"], outcome["failed"]) == (2, 1, 1)
    assert outcome["status"] == "partial"
