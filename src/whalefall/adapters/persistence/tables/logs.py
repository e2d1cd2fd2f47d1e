"""The unified log table (operations.md §5.1): not partitioned, trimmed by batched retention deletes (§1.9)."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

unified_logs = Table(
    "unified_logs", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("ts", UtcDateTime, nullable=False),
    Column("level", String(8), nullable=False),
    Column("logger", String(200), nullable=False),
    Column("module", String(32), nullable=False),
    Column("event", String(128), nullable=False),
    Column("message", Text, nullable=False),
    Column("process", String(16), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("request_id", String(128)),
    Column("session_id", String(64)),
    Column("pipeline_run_id", String(64)),
    Column("instance_id", id_type()),
    Column("user_id", id_type()),
    Column("exception_type", String(255)),
    Column("traceback", Text),
    Column("context", json_type(), nullable=False),
)
Index("ix_unified_logs_ts", unified_logs.c.ts)
Index("ix_unified_logs_level_ts", unified_logs.c.level, unified_logs.c.ts)
Index("ix_unified_logs_module_ts", unified_logs.c.module, unified_logs.c.ts)
Index("ix_unified_logs_session_id", unified_logs.c.session_id)
Index("ix_unified_logs_request_id", unified_logs.c.request_id)
Index("ix_unified_logs_instance_id_ts", unified_logs.c.instance_id, unified_logs.c.ts)
