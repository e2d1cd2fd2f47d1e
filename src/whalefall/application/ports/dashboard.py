"""Dashboard read model port (operations.md §7): one aggregate query per section, plain JSON-ready values."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import date, datetime
from typing import Final, Protocol

Section = Mapping[str, object]


class DashboardReader(Protocol):
    """Counts over the metadata store; deleted instances are counted only where a section says so."""

    @abstractmethod
    async def instances(self) -> Section:
        """`total` (non-deleted), `active`, `inactive`, `deleted`, `by_db_type`, `by_flavor`."""

    @abstractmethod
    async def connectivity(self, *, failing_limit: int) -> Section:
        """Contact status counts of active instances (`ok`, `failed`, `never`), and per kind (`accounts_sync`,
        `capacity_collection`) how many active instances' last record completed, failed or never ran, with the
        failing instances (most recent first, at most `failing_limit`)."""

    @abstractmethod
    async def databases(self) -> Section:
        """Ledger counts over non-deleted instances: `active`, `gone`, `system`, `excluded`."""

    @abstractmethod
    async def runs(self, *, since: datetime) -> Section:
        """Sessions created since `since` by kind × status, `running_now`, and `last_nightly` (the latest run of
        the `nightly` pipeline: id, status, created_at, finished_at; null when it never ran)."""

    @abstractmethod
    async def accounts(self) -> Section:
        """Accounts (`is_account`) that are active on non-deleted instances: `active`, `locked`, `privileged`
        (superuser), `classified` (at least one assignment), `unclassified`, and `by_classification`: every
        classification (zero counts included) with the active accounts whose primary assignment it is."""

    @abstractmethod
    async def capacity(self, *, today: date) -> Section:
        """Over active non-deleted instances: `fleet_total_bytes` (Σ latest instance sample collected on or after
        today − 1), `fresh` / `stale` / `never` collected counts, and `incomplete_instances` in the last complete
        daily aggregation (`last_complete_day`, null when none)."""

    @abstractmethod
    async def jobs(self) -> Section:
        """`enabled`, `paused`, `jobs` (id, enabled, next_fire_at) and `failing`: enabled jobs whose last fire's
        session or pipeline run ended failed or partial, or whose last fire was misfire_skipped."""

    @abstractmethod
    async def growth(self, *, month_start: date) -> Section:
        """Top 10 databases of non-deleted instances by `change_bytes` in the complete monthly window starting
        `month_start`."""

    @abstractmethod
    async def trends(self, *, sessions_since: datetime, session_days: int, samples_since: date, today: date
                     ) -> Section:
        """Sessions created per UTC day for `session_days` days from `sessions_since`, and the fleet total
        (Σ instance samples of non-deleted instances) per business day from `samples_since` to `today`; a day
        without samples is null."""

    @abstractmethod
    async def logs(self, *, since: datetime, days_since: datetime) -> Section:
        """ERROR and WARNING counts since `since` (24 h) and per UTC day since `days_since` (7 days)."""


class PartitionHealthReader(Protocol):
    """The partitions section: the same health as `GET /partitions/status`, for any dashboard reader."""

    @abstractmethod
    async def partition_health(self) -> Section:
        """`status` (ok, warning, critical, not_applicable), `checks` that are not ok, `last_maintenance`."""


class DashboardRefresh(Protocol):
    """Tells the dashboard read model that committed work changed its figures (operations.md §7 "invalidated
    by"); the dashboard slice maps each event to its sections. Called after the commit; never raises."""

    @abstractmethod
    async def session_created(self) -> None:
        """A session was created outside an HTTP 202 answer (scheduler fire, pipeline step)."""

    @abstractmethod
    async def pipeline_run_created(self) -> None:
        """A pipeline run was created."""

    @abstractmethod
    async def pipeline_run_finalised(self) -> None:
        """A pipeline run became terminal."""

    @abstractmethod
    async def job_fired(self) -> None:
        """A job fire row was written (fired, skipped_running or misfire_skipped)."""


class NoDashboardRefresh(DashboardRefresh):
    """Refreshes nothing (use cases built without a cache, e.g. in unit tests)."""

    async def session_created(self) -> None:
        return None

    async def pipeline_run_created(self) -> None:
        return None

    async def pipeline_run_finalised(self) -> None:
        return None

    async def job_fired(self) -> None:
        return None


NO_DASHBOARD_REFRESH: Final = NoDashboardRefresh()
