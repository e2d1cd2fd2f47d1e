"""Redactor rules 1–3 of operations.md §5.3 over a corpus, and the fixed logger → module mapping of §5.1."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from whalefall.domain.logs.redaction import LOG_MODULES, Redactor, is_sensitive_key, module_for_logger

CANARY = "s3cretCanary"
JWT = ("eyJhbGciOiJIUzI1NiIsImtpZCI6Im9sZCJ9.eyJzdWIiOiI0MiIsInR5cCI6ImFjY2VzcyJ9."
       "qJ3n5uYd2cF5z0d1lZkq8m0yXc9Zz1sV0k6m8Zk1a2Q")


@pytest.fixture
def redactor() -> Redactor:
    return Redactor()


@pytest.mark.parametrize("key", ["password", "db_password", "DB-PASSWORD", "passwd", "pwd", "client_secret",
                                 "access_token", "apiKey", "api_key", "private_key", "Authorization", "cookie",
                                 "set-cookie", "csrf", "x_csrf_header", "credential", "credentials", "secret_value",
                                 "tokenhash"])
def test_sensitive_keys(key: str) -> None:
    assert is_sensitive_key(key)


@pytest.mark.parametrize("key", ["token_id", "credential_id", "secretid", "secret_name", "credential_name",
                                 "token_count", "password_changed_at", "secret_updated_at", "user", "host",
                                 "event", "message", "attempt"])
def test_kept_keys(key: str) -> None:
    assert not is_sensitive_key(key)


def test_sensitive_keys_are_masked_at_any_depth(redactor: Redactor) -> None:
    event = {"context": {"db": [{"db_password": CANARY, "user": "app"}], "settings": ({"api_key": {"v": 1}},)},
             "credential_id": 7, "token_count": 2, "secret_name": "prod", "password_changed_at": "2027-05-19",
             "attempt": 1}
    assert redactor.redact_value(event) == {
        "context": {"db": [{"db_password": "***", "user": "app"}], "settings": ({"api_key": "***"},)},
        "credential_id": 7, "token_count": 2, "secret_name": "prod", "password_changed_at": "2027-05-19",
        "attempt": 1}


@pytest.mark.parametrize(("text", "expected"), [
    ("postgresql://u:s3cret@h/db", "postgresql://u:***@h/db"),
    ("connect to mysql+pymysql://app:p@ss@w0rd@db.example:3306/x failed",
     "connect to mysql+pymysql://app:***@db.example:3306/x failed"),
    ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
    ("https://example.org/path?q=1", "https://example.org/path?q=1"),
    ("Server=db;User Id=sa;Password=s3cret;Database=x", "Server=db;User Id=sa;Password=***;Database=x"),
    ("DRIVER={ODBC};UID=sa;PWD={s3c;ret};", "DRIVER={ODBC};UID=sa;PWD=***;"),
    ("host=db user=app password=s3cret dbname=x", "host=db user=app password=*** dbname=x"),
    ("host=db password='s3 cret' port=5432", "host=db password=*** port=5432"),
    ("password = s3cret", "password = ***"),
    ("GET /x?token=abcdef&page=2", "GET /x?token=***&page=2"),
    ("secret=abc token_id=9 user_id=3", "secret=*** token_id=9 user_id=3"),
    ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
    ("authorization: Basic dXNlcjpwYXNz", "authorization: Basic ***"),
    ("headers={'Authorization': 'Bearer xyz123456789'}", "headers={'Authorization': ***}"),
    ("curl -H 'X: 1' with Bearer AbCdEf123456", "curl -H 'X: 1' with Bearer ***"),
    ("needs basic authentication", "needs basic authentication"),
    (f"token {JWT} rejected", "token *** rejected"),
    ("presented wf_abcd1234_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "presented ***"),
    ("refresh wfr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA used twice", "refresh *** used twice"),
    ("ValueError: bad config {'password': 's3cret', 'host': 'h'}",
     "ValueError: bad config {'password': ***, 'host': 'h'}"),
    ('{"token": "abc", "token_id": "t1"}', '{"token": ***, "token_id": "t1"}'),
    ("2 databases had no readable size", "2 databases had no readable size"),
])
def test_strings(redactor: Redactor, text: str, expected: str) -> None:
    assert redactor.redact_text(text) == expected


def test_live_secrets_are_masked_while_registered(redactor: Redactor) -> None:
    message = f"OperationalError: login failed for 'sa' using {CANARY!r} (text {CANARY}/x)"
    with redactor.live_secret(CANARY):
        redacted = redactor.redact_value({"traceback": message, "context": {"args": (CANARY + "-suffix",)}})
    assert CANARY not in repr(redacted)
    assert redacted == {"traceback": "OperationalError: login failed for 'sa' using '***' (text ***/x)",
                        "context": {"args": ("***-suffix",)}}
    assert redactor.redact_text(CANARY) == CANARY


def test_live_secret_url_encoded_form_and_longest_match(redactor: Redactor) -> None:
    first = redactor.register("p@ss word")
    second = redactor.register("p@ss")
    assert redactor.redact_text("x p%40ss%20word y p@ss word z p@ss") == "x *** y *** z ***"
    redactor.unregister(first)
    assert redactor.redact_text("p@ss word") == "*** word"
    redactor.unregister(second)
    redactor.unregister(second)
    assert redactor.redact_text("p@ss word") == "p@ss word"


def test_the_same_secret_registered_twice_stays_masked_until_both_are_gone(redactor: Redactor) -> None:
    first, second = redactor.register(CANARY), redactor.register(CANARY)
    redactor.unregister(first)
    assert redactor.redact_text(CANARY) == "***"
    redactor.unregister(second)
    assert redactor.redact_text(CANARY) == CANARY


def test_very_short_live_secrets_are_not_matched(redactor: Redactor) -> None:
    with redactor.live_secret("ab"):
        assert redactor.redact_text("table abc") == "table abc"


def test_exception_objects_and_other_values(redactor: Redactor) -> None:
    moment = datetime(2027, 5, 19, tzinfo=UTC)
    with redactor.live_secret(CANARY):
        redacted = redactor.redact_value({"error": RuntimeError(f"boom {CANARY}"), "at": moment, "n": 1.5,
                                          "ok": True, "none": None, "raw": CANARY.encode(), "tags": {"a"}})
    assert redacted == {"error": "boom ***", "at": moment, "n": 1.5, "ok": True, "none": None, "raw": "<12 bytes>",
                        "tags": ["a"]}


def test_registry_is_thread_safe(redactor: Redactor) -> None:
    def churn(index: int) -> None:
        for _ in range(200):
            with redactor.live_secret(f"secret-{index}-value"):
                assert redactor.redact_text(f"x secret-{index}-value y") == "x *** y"

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert redactor.redact_text("secret-1-value") == "secret-1-value"


def test_deep_structures_are_cut(redactor: Redactor) -> None:
    value: dict[str, object] = {}
    node = value
    for _ in range(100):
        child: dict[str, object] = {}
        node["n"] = child
        node = child
    assert "<too deep>" in repr(redactor.redact_value(value))


@pytest.mark.parametrize(("logger", "module"), [
    ("whalefall.application.accounts.run_instance_sync", "accounts"),
    ("whalefall.domain.audit.events", "audit"),
    ("whalefall.application.capacity.aggregate", "capacity"),
    ("whalefall.domain.classification.evaluator", "classification"),
    ("whalefall.adapters.connectors.mysql", "connectors"),
    ("whalefall.application.dashboard.summary", "dashboard"),
    ("whalefall.application.instances.create", "instances"),
    ("whalefall.application.logs.query", "logs"),
    ("whalefall.domain.partitions.planner", "partitions"),
    ("whalefall.application.pipelines.advance", "pipelines"),
    ("whalefall.entrypoints.scheduler.leader", "scheduler"),
    ("whalefall.application.sessions.reap", "sessions"),
    ("whalefall.entrypoints.worker.tasks", "worker"),
    ("whalefall.application.identity.login", "auth"),
    ("whalefall.adapters.security.jwt_tokens", "auth"),
    ("whalefall.entrypoints.http.app", "api"),
    ("whalefall.adapters.persistence.engine", "database"),
    ("whalefall.adapters.observability.logging_setup", "logs"),
    ("whalefall.adapters.taskqueue.broker", "worker"),
    ("whalefall.adapters.redis.locks", "system"),
    ("whalefall.entrypoints.cli.main", "system"),
    ("whalefall.adapters.clock", "system"),
    ("whalefall", "system"),
    ("whalefall.capacity", "system"),
    ("uvicorn.error", "api"),
    ("litestar", "api"),
    ("taskiq.receiver", "worker"),
    ("sqlalchemy.engine.Engine", "database"),
    ("alembic.runtime.migration", "database"),
    ("aiosqlite", "database"),
    ("httpx", "system"),
    ("root", "system"),
    ("", "system"),
])
def test_module_mapping(logger: str, module: str) -> None:
    assert module_for_logger(logger) == module
    assert module in LOG_MODULES
