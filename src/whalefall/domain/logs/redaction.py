"""Log redaction (operations.md §5.3) and the fixed logger → module mapping (§5.1); standard library only."""

from __future__ import annotations

import contextlib
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Final, NewType
from uuid import UUID

MASK: Final = "***"
SENSITIVE_WORDS: Final = ("password", "passwd", "pwd", "secret", "token", "apikey", "privatekey", "authorization",
                          "cookie", "csrf", "credential")
KEPT_SUFFIXES: Final = ("id", "name", "count", "at")
LOG_MODULES: Final = ("accounts", "api", "audit", "auth", "capacity", "classification", "connectors", "dashboard",
                      "database", "instances", "logs", "partitions", "pipelines", "scheduler", "sessions", "system",
                      "worker")
_MAX_DEPTH: Final = 32
_KEPT_TYPES: Final = (bool, int, float, type(None), datetime, date, time, timedelta, Decimal, UUID)

LiveSecretHandle = NewType("LiveSecretHandle", int)

# `scheme://user:password@host`: the password may itself hold `@`, so the last `@` before the path ends it.
_URL_PASSWORD: Final = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/?#@\s]*:)[^\s/?#]*@")
# `key=value` in libpq (space separated, quoted), ODBC (`;`, `{braced}`) and URL query (`&`) forms.
_PAIR: Final = re.compile(
    r"(?P<key>(?<![\w.-])[A-Za-z][\w.-]*)(?P<eq>\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\{(?:[^}]|\}\})*\}|(?!=)[^;\s&]*)")
# `'password': 'x'` and `"token": "x"` inside dict reprs and JSON text (exception messages often hold them).
_QUOTED_PAIR: Final = re.compile(
    r"(?P<key>(?P<q>['\"])[A-Za-z][\w.-]*(?P=q))(?P<eq>\s*:\s*)(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_AUTH_HEADER: Final = re.compile(
    r"(?P<head>(?i:\b(?:proxy-)?authorization)['\"]?\s*[:=]\s*['\"]?(?:(?i:bearer|basic|digest|token|negotiate|ntlm)"
    r"\s+)?)[^\s'\",;]+")
# A bare `Bearer x`/`Basic x` (header dicts, curl lines); an all-lower-case word is prose ("basic authentication").
_AUTH_SCHEME: Final = re.compile(
    r"(?P<head>\b(?i:bearer|basic)\s+)(?![a-z]+(?![A-Za-z0-9._~+/=-]))[A-Za-z0-9._~+/=-]{8,}")
_JWT: Final = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_WHALEFALL_TOKEN: Final = re.compile(r"\bwfr?_[A-Za-z0-9_-]{20,}")
_LIBRARY_MODULES: Final = {"uvicorn": "api", "litestar": "api", "taskiq": "worker", "sqlalchemy": "database",
                           "alembic": "database", "aiosqlite": "database"}
_RENAMED_AREAS: Final = {"identity": "auth", "security": "auth", "http": "api", "persistence": "database",
                         "observability": "logs", "taskqueue": "worker"}
_LAYERS: Final = frozenset({"domain", "application", "adapters", "entrypoints"})


def is_sensitive_key(key: str) -> bool:
    """Rule 1: the lower-cased key without `-`/`_` contains a sensitive word and does not end in id/name/count/at."""
    normalised = key.lower().replace("-", "").replace("_", "")
    return any(word in normalised for word in SENSITIVE_WORDS) and not normalised.endswith(KEPT_SUFFIXES)


def module_for_logger(logger_name: str) -> str:
    """The module of a logger name (operations.md §5.1): `whalefall.<layer>.<area>…`, known libraries, else system."""
    parts = logger_name.split(".")
    if parts[0] == "whalefall":
        area = parts[2] if len(parts) > 2 and parts[1] in _LAYERS else ""
        area = _RENAMED_AREAS.get(area, area)
        return area if area in LOG_MODULES else "system"
    return _LIBRARY_MODULES.get(parts[0], "system")


class Redactor:
    """Applies rules 1–3 of operations.md §5.3; the live-secret registry is shared by all threads of a process.

    Live secrets shorter than `min_live_secret_length` are not matched: masking every occurrence of a one- or
    two-character string would destroy every log line while the connection is open.
    """

    def __init__(self, *, min_live_secret_length: int = 4) -> None:
        self._min_length = min_live_secret_length
        self._lock = threading.Lock()
        self._secrets: dict[LiveSecretHandle, tuple[str, ...]] = {}
        self._next_handle = 0
        self._pattern: re.Pattern[str] | None = None

    def register(self, secret: str) -> LiveSecretHandle:
        """Mask `secret` (and its URL-encoded form) wherever it occurs until the handle is unregistered."""
        forms = tuple({secret, urllib.parse.quote(secret, safe="")} - {""})
        with self._lock:
            self._next_handle += 1
            handle = LiveSecretHandle(self._next_handle)
            self._secrets[handle] = forms
            self._pattern = self._compile()
        return handle

    def unregister(self, handle: LiveSecretHandle) -> None:
        """No-op for a handle that is not registered."""
        with self._lock:
            if self._secrets.pop(handle, None) is not None:
                self._pattern = self._compile()

    @contextlib.contextmanager
    def live_secret(self, secret: str) -> Iterator[None]:
        """Registers `secret` for the duration of the block (e.g. while a connection is being opened)."""
        handle = self.register(secret)
        try:
            yield
        finally:
            self.unregister(handle)

    def redact_text(self, text: str) -> str:
        """Rules 2 and 3 on one string."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _URL_PASSWORD.sub(rf"\g<head>{MASK}@", text)
        text = _AUTH_HEADER.sub(rf"\g<head>{MASK}", text)
        text = _AUTH_SCHEME.sub(rf"\g<head>{MASK}", text)
        text = _PAIR.sub(_mask_pair, text)
        text = _QUOTED_PAIR.sub(_mask_pair, text)
        text = _JWT.sub(MASK, text)
        return _WHALEFALL_TOKEN.sub(MASK, text)

    def redact_value(self, value: object) -> object:
        """A redacted copy: mappings and sequences are walked, strings masked, other objects stringified first."""
        return self._walk(value, 0)

    def _walk(self, value: object, depth: int) -> object:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, _KEPT_TYPES):
            return value
        if depth >= _MAX_DEPTH:
            return "<too deep>"
        if isinstance(value, Mapping):
            return {key: MASK if is_sensitive_key(str(key)) else self._walk(item, depth + 1)
                    for key, item in value.items()}
        if isinstance(value, list | set | frozenset):
            return [self._walk(item, depth + 1) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item, depth + 1) for item in value)
        if isinstance(value, bytes | bytearray):
            # Raw bytes may be a secret in any encoding; only their size is worth logging.
            return f"<{len(value)} bytes>"
        # Unknown objects would be stringified by the renderer anyway; doing it here lets the text rules see them.
        return self.redact_text(str(value))

    def _compile(self) -> re.Pattern[str] | None:
        forms = {form for group in self._secrets.values() for form in group if len(form) >= self._min_length}
        if not forms:
            return None
        # Longest first, so a secret that contains another registered one is masked whole.
        return re.compile("|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True)))


def _mask_pair(match: re.Match[str]) -> str:
    if not is_sensitive_key(match.group("key").strip("'\"")):
        return match.group(0)
    return f"{match.group('key')}{match.group('eq')}{MASK}"
