"""Frozen Settings: the only reader of WHALEFALL_* environment variables and the optional TOML file.

Naming rule (spec README): env `WHALEFALL_<AREA>_<NAME>` = dotted setting `<area>.<name>` = TOML table `[<area>]`
key `<name>`; a single-word variable (`WHALEFALL_TIMEZONE`) is a top-level key. The environment wins over the file.
The TOML file is `WHALEFALL_CONFIG_FILE`, else `<data dir>/whalefall.toml` when it exists.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, Literal, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from whalefall.application.identity.request_limits import DEFAULT_LIMITS, Limit, LimitedAction, RequestLimitPolicy
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.instances import OutboundAllowList, OutboundAllowListError

PREFIX: Final = "WHALEFALL_"
T = TypeVar("T", int, float, str, bool)

ApiDocs = Literal["public", "authenticated", "off"]


class SettingsError(ValidationProblemsError):
    """A setting has an invalid value; the process refuses to start."""

    code = "CONFIGURATION_ERROR"


def _env_to_dotted(name: str) -> str:
    key = name[len(PREFIX):].lower()
    area, sep, rest = key.partition("_")
    return f"{area}.{rest}" if sep else area


def _flatten(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and prefix == "":
            flat.update(_flatten(cast(Mapping[str, object], value), f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def read_raw_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """Merge the TOML file (if any) and the environment into one dotted-key map (environment wins)."""
    env = {_env_to_dotted(k): v for k, v in environ.items() if k.startswith(PREFIX) and len(k) > len(PREFIX)}
    data_dir = Path(str(env.get("data.dir") or platformdirs.user_data_dir("whalefall", appauthor=False)))
    config_file = env.get("config.file")
    path = Path(str(config_file)) if config_file else data_dir / "whalefall.toml"
    merged: dict[str, object] = {}
    if path.is_file():
        with path.open("rb") as handle:
            merged.update(_flatten(tomllib.load(handle)))
    elif config_file:
        raise SettingsError([Problem("config.file", "not_found", f"configuration file {path} does not exist")])
    merged.update(env)
    merged.setdefault("data.dir", str(data_dir))
    return merged


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Every setting whalefall reads, typed. Unknown dotted keys stay available through `raw` for later slices."""

    data_dir: Path
    database_url: str | None = None
    redis_url: str | None = None
    broker_url: str | None = None
    cache_url: str | None = None
    secret_key: str | None = None
    secret_key_file: Path | None = None
    secret_key_active_id: str | None = None
    jwt_keys: str | None = None
    jwt_key_file: Path | None = None
    jwt_active_id: str | None = None
    timezone: str = "UTC"
    api_docs: ApiDocs = "public"
    log_level: str = "INFO"
    log_db_level: str = "INFO"
    access_token_ttl_s: int = 600
    password_min_length: int = 12
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    cors_origins: tuple[str, ...] = ()
    #: `outbound.allow`; None = every target may be contacted (api.md §4.11).
    outbound_allow: OutboundAllowList | None = None
    #: `ratelimit.<action>` (count per window, 0 disables) and `ratelimit.<action>_window_s` (api.md §4.8).
    request_limits: RequestLimitPolicy = field(default_factory=RequestLimitPolicy)
    raw: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def embedded(self) -> bool:
        """Embedded mode: no database URL configured → SQLite in the data directory, in-memory adapters."""
        return self.database_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'whalefall.db'}"

    @property
    def effective_secret_key_file(self) -> Path | None:
        if self.secret_key_file is not None:
            return self.secret_key_file
        return self.data_dir / "credential-keys.json" if self.embedded and not self.secret_key else None

    @property
    def effective_jwt_key_file(self) -> Path | None:
        if self.jwt_key_file is not None:
            return self.jwt_key_file
        return self.data_dir / "jwt-keys.json" if self.embedded and not self.jwt_keys else None

    def get(self, dotted: str, default: T) -> T:
        """A typed extra setting by dotted name (e.g. `connector.statement_timeout_s`), converted like `default`."""
        if dotted not in self.raw:
            return default
        return _convert(dotted, self.raw[dotted], default)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from the process environment (or a given mapping) and the TOML file."""
        raw = read_raw_settings(os.environ if environ is None else environ)
        return cls.from_raw(raw)

    @classmethod
    def from_raw(cls, raw: Mapping[str, object]) -> Settings:
        problems: list[Problem] = []

        def text(key: str) -> str | None:
            value = raw.get(key)
            return None if value in (None, "") else str(value)

        def number(key: str, default: int, low: int, high: int) -> int:
            try:
                value = _convert(key, raw.get(key, default), default)
            except SettingsError as exc:
                problems.extend(exc.problems)
                return default
            if not low <= value <= high:
                problems.append(Problem(key, "out_of_range", f"must be between {low} and {high}"))
            return value

        timezone = text("timezone") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(Problem("timezone", "invalid_choice", f"unknown time zone {timezone!r}"))
        database_url = text("database.url")
        docs_default: ApiDocs = "public" if database_url is None else "authenticated"
        api_docs = text("api.docs") or docs_default
        if api_docs not in ("public", "authenticated", "off"):
            problems.append(Problem("api.docs", "invalid_choice", "must be public, authenticated or off"))
            api_docs = docs_default
        outbound_allow = None
        if (allow_text := text("outbound.allow")) is not None:
            try:
                outbound_allow = OutboundAllowList.parse(allow_text)
            except OutboundAllowListError as exc:
                problems.extend(Problem("outbound.allow", "invalid_format", p) for p in exc.problems)
        request_limits = RequestLimitPolicy(MappingProxyType({
            action: Limit(number(f"ratelimit.{action.value}", DEFAULT_LIMITS[action].count, 0, 1_000_000),
                          number(f"ratelimit.{action.value}_window_s", DEFAULT_LIMITS[action].window_s, 1, 86_400))
            for action in LimitedAction}))
        settings = cls(
            data_dir=Path(str(raw["data.dir"])),
            database_url=database_url,
            redis_url=text("redis.url"),
            broker_url=text("broker.url"),
            cache_url=text("cache.url"),
            secret_key=text("secret.key"),
            secret_key_file=Path(p) if (p := text("secret.key_file")) else None,
            secret_key_active_id=text("secret.key_active_id"),
            jwt_keys=text("jwt.keys"),
            jwt_key_file=Path(p) if (p := text("jwt.key_file")) else None,
            jwt_active_id=text("jwt.active_id"),
            timezone=timezone,
            api_docs=cast(ApiDocs, api_docs),
            log_level=(text("log.level") or "INFO").upper(),
            log_db_level=(text("log.db_level") or "INFO").upper(),
            access_token_ttl_s=number("auth.access_token_ttl_s", 600, 60, 3600),
            password_min_length=number("auth.password_min_length", 12, 8, 256),
            argon2_time_cost=number("auth.argon2_time_cost", 3, 1, 20),
            argon2_memory_kib=number("auth.argon2_memory_kib", 65536, 8, 4_194_304),
            argon2_parallelism=number("auth.argon2_parallelism", 4, 1, 64),
            cors_origins=tuple(o.strip() for o in (text("cors.origins") or "").split(",") if o.strip()),
            outbound_allow=outbound_allow,
            request_limits=request_limits,
            raw=MappingProxyType(dict(raw)),
        )
        if problems:
            raise SettingsError(problems)
        return settings


def _convert(key: str, value: object, default: T) -> T:
    converted: object
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
                raise ValueError(value)
            converted = value if isinstance(value, bool) else str(value).lower() == "true"
        elif isinstance(default, int):
            converted = int(str(value))
        elif isinstance(default, float):
            converted = float(str(value))
        else:
            converted = str(value)
    except ValueError as exc:
        raise SettingsError([Problem(key, "invalid_type", f"must be a {type(default).__name__}")]) from exc
    return converted  # type: ignore[return-value,unused-ignore]
