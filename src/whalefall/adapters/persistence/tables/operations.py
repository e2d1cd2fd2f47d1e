"""Tables of the scheduler and pipelines (operations.md §3.1, §4.4, §8): jobs, fires, definitions, runs, steps,
process heartbeats."""

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from whalefall.adapters.persistence.tables import metadata
from whalefall.adapters.persistence.types import UtcDateTime, id_type, json_type

scheduled_jobs = Table(
    "scheduled_jobs", metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("target", String(64)),
    Column("name", String(128), nullable=False),
    Column("description", Text),
    Column("cron", String(128), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("params", json_type(), nullable=False),
    Column("is_builtin", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", id_type()),
    Column("schedule_changed_at", UtcDateTime, nullable=False),
    Column("next_fire_at", UtcDateTime),
    Column("last_fire_at", UtcDateTime),
    Column("last_session_id", String(36)),
    Column("last_pipeline_run_id", String(36)),
    Column("last_misfire_at", UtcDateTime),
)

job_fires = Table(
    "job_fires", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("job_id", String(64), ForeignKey("scheduled_jobs.id", ondelete="CASCADE"), nullable=False),
    Column("scheduled_for", UtcDateTime, nullable=False),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("leader_id", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("session_id", String(36)),
    Column("pipeline_run_id", String(36)),
    UniqueConstraint("job_id", "scheduled_for", name="uq_job_fires_job_id_scheduled_for"),
    CheckConstraint("outcome IN ('fired', 'skipped_running', 'misfire_skipped')", name="outcome"),
)
Index("ix_job_fires_fired_at", job_fires.c.fired_at)

pipeline_definitions = Table(
    "pipeline_definitions", metadata,
    Column("name", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("definition", json_type(), nullable=False),
    Column("is_builtin", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", id_type()),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", id_type()),
)

pipeline_runs = Table(
    "pipeline_runs", metadata,
    Column("id", String(36), primary_key=True),
    Column("pipeline_name", String(64), nullable=False),
    Column("definition_revision", Integer, nullable=False),
    Column("definition", json_type(), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("job_id", String(64)),
    Column("created_by", id_type()),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("cancel_requested_at", UtcDateTime),
    Column("cancel_requested_by", id_type()),
    Column("rerun_of", String(36)),
    Column("error_code", String(64)),
    Column("error_message", Text),
    CheckConstraint("status IN ('running', 'completed', 'partial', 'failed', 'cancelled')", name="status"),
    CheckConstraint("trigger IN ('scheduled', 'manual')", name="trigger"),
)
Index("ix_pipeline_runs_pipeline_name_created_at", pipeline_runs.c.pipeline_name, pipeline_runs.c.created_at)
Index("ix_pipeline_runs_status", pipeline_runs.c.status)
# One running run per pipeline (operations.md §4.4): a second start hits this index → 409 PIPELINE_RUNNING.
Index("uq_pipeline_runs_one_running", pipeline_runs.c.pipeline_name, unique=True,
      postgresql_where=text("status = 'running'"), sqlite_where=text("status = 'running'"))

pipeline_step_runs = Table(
    "pipeline_step_runs", metadata,
    Column("id", id_type(), primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("pipeline_runs.id", ondelete="CASCADE"), nullable=False),
    Column("step_name", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("degraded", Boolean, nullable=False),
    Column("session_id", String(36)),
    Column("blocked_by", String(64)),
    Column("reused_from", String(36)),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("error_code", String(64)),
    Column("error_message", Text),
    UniqueConstraint("run_id", "step_name", name="uq_pipeline_step_runs_run_id_step_name"),
    CheckConstraint("status IN ('pending', 'running', 'completed', 'failed', 'skipped', 'cancelled')",
                    name="status"),
)
Index("ix_pipeline_step_runs_session_id", pipeline_step_runs.c.session_id)

process_heartbeats = Table(
    "process_heartbeats", metadata,
    Column("process_id", String(200), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("host", String(253), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("running_tasks", Integer, nullable=False),
    Column("is_leader", Boolean, nullable=False),
    Column("leader_since", UtcDateTime),
    CheckConstraint("kind IN ('api', 'worker', 'scheduler')", name="kind"),
)
Index("ix_process_heartbeats_kind_last_seen_at", process_heartbeats.c.kind, process_heartbeats.c.last_seen_at)
