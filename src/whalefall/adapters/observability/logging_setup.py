"""The one structlog configuration of a process: stdlib and structlog events share one redacting JSON pipeline."""

from __future__ import annotations

import json as json_module
import logging
import os
import re
import socket
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Final, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from whalefall.domain.logs.redaction import Redactor, module_for_logger

LogSink = Callable[[dict[str, Any]], None]

CONTEXT_FIELDS: Final = ("request_id", "session_id", "pipeline_run_id", "instance_id", "user_id")
MAX_MESSAGE_BYTES: Final = 8 * 1024
MAX_TRACEBACK_BYTES: Final = 32 * 1024
MAX_CONTEXT_BYTES: Final = 16 * 1024
TRUNCATED_MARKER: Final = "…[truncated]"
FOREIGN_EVENT: Final = "log.message"
_EVENT_KEY: Final = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
_TOP_LEVEL: Final = frozenset({"ts", "level", "logger", "module", "event", "message", "process", "host", "pid",
                               "exception_type", "traceback", *CONTEXT_FIELDS})
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


class _PipelineHandler(logging.StreamHandler[TextIO]):
    """Formats every record it accepts (so sinks see events down to their level); writes those at `stdout_level`."""

    def __init__(self, stream: TextIO, stdout_level: int) -> None:
        super().__init__(stream)
        self.stdout_level = stdout_level

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            if record.levelno >= self.stdout_level:
                self.stream.write(line + self.terminator)
                self.flush()
        except RecursionError:
            raise
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """Unlike the stdlib version, never prints the record's unredacted message or arguments."""
        _report(f"logging failed for a record of {record.name}: {type(sys.exc_info()[1]).__name__}")


_installed: _PipelineHandler | None = None


def configure_logging(*, level: str, json: bool = True, redactor: Redactor, process: str,
                      extra_sinks: Sequence[LogSink] = (), sink_level: str | None = None,
                      stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging through: context → level/logger → ts → exception → shape → redaction →
    extra sinks → JSON line on `stream` (default: the current stdout).

    Extra sinks receive every event at or above `sink_level` (default `level`) as a redacted dict in the
    `unified_logs` shape; a sink that raises is skipped, never the caller. Calling again replaces the previous
    configuration (only the handler installed here is removed from the root logger).
    """
    global _installed
    stdout_level = _level_number(level)
    sinks_level = _level_number(sink_level) if sink_level is not None else stdout_level
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _format_exception,
    ]
    renderer: Processor = (_render_json if json else
                           structlog.dev.ConsoleRenderer(colors=False, timestamp_key="ts"))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _Shape(process, socket.gethostname()),
            _Redact(redactor),
            _FanOut(tuple(extra_sinks), sinks_level),
            renderer,
        ],
    )
    handler = _PipelineHandler(stream if stream is not None else sys.stdout, stdout_level)
    handler.setFormatter(formatter)
    handler.setLevel(min(stdout_level, sinks_level) if extra_sinks else stdout_level)
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(handler.level)
    _installed = handler
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, structlog.stdlib.PositionalArgumentsFormatter(), *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Caching would pin loggers made before a reconfiguration (tests configure more than once).
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Remove the handler installed by `configure_logging` and restore structlog's defaults (tests, shutdown)."""
    global _installed
    if _installed is not None:
        logging.getLogger().removeHandler(_installed)
        _installed = None
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A structlog logger for `name` (use the module's `__name__`, it decides the `module` field)."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def bind_log_context(**values: object) -> None:
    """Bind request_id, session_id, user_id… to every event of the current task or thread."""
    structlog.contextvars.bind_contextvars(**values)


def unbind_log_context(*keys: str) -> None:
    structlog.contextvars.unbind_contextvars(*keys)


def clear_log_context() -> None:
    structlog.contextvars.clear_contextvars()


def log_context(**values: object) -> AbstractContextManager[None]:
    """Bind values for the duration of a `with` block, restoring the previous ones afterwards."""
    manager: AbstractContextManager[None] = structlog.contextvars.bound_contextvars(**values)
    return manager


def _level_number(name: str) -> int:
    number = logging.getLevelNamesMapping().get(name.upper())
    if number is None:
        raise ValueError(f"unknown log level {name!r}")
    return number


def _format_exception(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    stack = event.pop("stack_info", None)
    if stack is True:
        event["stack"] = "".join(traceback.format_stack())
    elif isinstance(stack, str):
        event["stack"] = stack
    exc_info = _exc_info(event.pop("exc_info", None))
    if exc_info is not None:
        kind, error, tb = exc_info
        event["exception_type"] = f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")
        event["traceback"] = "".join(traceback.format_exception(kind, error, tb))
    return event


def _exc_info(value: object) -> _ExcInfo | None:
    if isinstance(value, BaseException):
        return type(value), value, value.__traceback__
    if isinstance(value, tuple) and len(value) == 3 and isinstance(value[1], BaseException):
        return type(value[1]), value[1], value[2]
    if value is True:
        kind, error, tb = sys.exc_info()
        return (kind, error, tb) if kind is not None and error is not None else None
    return None


class _Shape:
    """Turns an event dict into the `unified_logs` shape: schema fields on top, everything else in `context`."""

    def __init__(self, process: str, host: str) -> None:
        self._process = process
        self._host = host

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        text = str(event.pop("event", ""))
        message = event.pop("message", None)
        if _EVENT_KEY.fullmatch(text) and len(text) <= 128:
            key = text
        else:
            key, message = FOREIGN_EVENT, message if message is not None else text
        logger_name = str(event.pop("logger", "") or "root")
        shaped: dict[str, Any] = {
            "ts": event.pop("ts", None),
            "level": str(event.pop("level", "info")).upper(),
            "logger": logger_name,
            "module": module_for_logger(logger_name),
            "event": key,
            "message": _truncate_head(str(message if message is not None else text), MAX_MESSAGE_BYTES),
            "process": self._process,
            "host": self._host,
            "pid": os.getpid(),
        }
        for name in CONTEXT_FIELDS:
            shaped[name] = event.pop(name, None)
        exception_type = event.pop("exception_type", None)
        trace = event.pop("traceback", None)
        shaped["exception_type"] = exception_type
        shaped["traceback"] = _truncate_tail(trace, MAX_TRACEBACK_BYTES) if isinstance(trace, str) else None
        shaped["context"] = {key: value for key, value in event.items() if key not in _TOP_LEVEL}
        return shaped


class _Redact:
    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        redacted = self._redactor.redact_value(event)
        assert isinstance(redacted, dict)
        redacted["context"] = _limit_context(redacted.get("context") or {})
        return redacted


class _FanOut:
    """Hands each sink its own shallow copy; a failing sink is reported once on stderr (type only, no message)."""

    def __init__(self, sinks: tuple[LogSink, ...], level: int) -> None:
        self._sinks = sinks
        self._level = level
        self._reported: set[int] = set()

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        if not self._sinks or logging.getLevelNamesMapping().get(str(event.get("level")), 0) < self._level:
            return event
        for index, sink in enumerate(self._sinks):
            try:
                sink({**event, "context": dict(event.get("context") or {})})
            except Exception as exc:  # the sink's failure must not become the caller's failure
                if index not in self._reported:
                    self._reported.add(index)
                    _report(f"log sink {index} failed: {type(exc).__name__}")
        return event


def _report(text: str) -> None:
    # The original stderr: stdout carries the JSON lines and sys.stderr may be a capture.
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"whalefall: {text}\n")


def _render_json(_: WrappedLogger, __: str, event: EventDict) -> str:
    return json_module.dumps(event, ensure_ascii=False, default=str, separators=(",", ":"))


def _limit_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Keeps whole keys in order while the JSON stays within 16 KiB; `_truncated: true` marks a cut."""
    if _json_size(context) <= MAX_CONTEXT_BYTES:
        return dict(context)
    kept: dict[str, Any] = {"_truncated": True}
    budget = MAX_CONTEXT_BYTES - _json_size(kept)
    for key, value in context.items():
        size = _json_size({key: value})
        if size > budget:
            continue
        kept[key] = value
        budget -= size
    return kept


def _json_size(value: object) -> int:
    return len(json_module.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))


def _truncate_head(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    keep = limit - len(TRUNCATED_MARKER.encode("utf-8"))
    return data[:keep].decode("utf-8", errors="ignore") + TRUNCATED_MARKER


def _truncate_tail(text: str, limit: int) -> str:
    """Keeps the end of a traceback: the innermost frames and the exception line matter most."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    keep = limit - len(TRUNCATED_MARKER.encode("utf-8")) - 1
    return TRUNCATED_MARKER + "\n" + data[-keep:].decode("utf-8", errors="ignore")
