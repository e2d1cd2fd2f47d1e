"""Providers of the broker and the task queue (APP scope), the worker identity and the runtime parameters of the
session runner and reaper derived from Settings (operations §1.5, §1.8, §2.2–2.3)."""

from __future__ import annotations

import os
import random
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import NewType

from dishka import Provider, Scope, provide
from taskiq import AsyncBroker

from whalefall.adapters.taskqueue.broker import in_memory_broker, is_in_memory, redis_stream_broker
from whalefall.adapters.taskqueue.queue import TaskiqTaskQueue
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.sessions.reap import ReaperConfig
from whalefall.application.sessions.run_record import RunnerConfig
from whalefall.domain.sessions.backoff import RetryPolicy
from whalefall.entrypoints.settings import Settings

WorkerId = NewType("WorkerId", str)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerSettings:
    """`worker.concurrency`, `worker.shutdown_grace_s`, `sessions.reaper_interval_s`."""

    concurrency: int
    shutdown_grace_s: float
    reaper_interval_s: float


def broker_url(settings: Settings) -> str | None:
    """`broker.url` overrides `WHALEFALL_REDIS_URL`; None = embedded in-memory broker."""
    return settings.broker_url or settings.redis_url


def new_worker_id() -> str:
    """`host:pid:random`, unique per process start (operations §1.5)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def build_broker(settings: Settings, worker_id: str | None = None) -> AsyncBroker:
    """The production RedisStreamBroker when a Redis URL is set, else the in-memory broker."""
    url = broker_url(settings)
    if url is None:
        return in_memory_broker()
    return redis_stream_broker(url, idle_timeout_ms=settings.get("broker.idle_timeout_ms", 600_000),
                               consumer_name=worker_id or new_worker_id(),
                               max_connections=settings.get("worker.concurrency", 32) + 8)


def runner_config(settings: Settings) -> RunnerConfig:
    jitter = settings.get("retry.jitter", 0.2)
    return RunnerConfig(
        lease_ttl_s=settings.get("sessions.lease_ttl_s", 60.0),
        heartbeat_interval_s=settings.get("sessions.heartbeat_interval_s", 15.0),
        instance_deadline_s=settings.get("connector.instance_deadline_s", 900.0),
        retry=RetryPolicy(max_attempts=settings.get("retry.max_attempts", 3),
                          base_delay_s=settings.get("retry.base_delay_s", 5.0),
                          factor=settings.get("retry.factor", 2.0),
                          max_delay_s=settings.get("retry.max_delay_s", 60.0), jitter=jitter),
        random=random.random if jitter else None,
    )


def reaper_config(settings: Settings) -> ReaperConfig:
    return ReaperConfig(grace_s=settings.get("sessions.reaper_grace_s", 10.0),
                        stall_after_s=settings.get("sessions.stall_after_s", 300.0),
                        max_dispatches=settings.get("sessions.max_dispatches", 5))


class MessagingProvider(Provider):
    scope = Scope.APP

    @provide
    async def broker(self, settings: Settings, worker_id: WorkerId) -> AsyncIterator[AsyncBroker]:
        broker = build_broker(settings, worker_id)
        try:
            yield broker
        finally:
            if not is_in_memory(broker):
                await broker.shutdown()

    @provide
    def task_queue(self, broker: AsyncBroker) -> TaskQueue:
        return TaskiqTaskQueue(broker)

    @provide
    def worker_id(self) -> WorkerId:
        return WorkerId(new_worker_id())

    @provide
    def runner(self, settings: Settings) -> RunnerConfig:
        return runner_config(settings)

    @provide
    def reaper(self, settings: Settings) -> ReaperConfig:
        return reaper_config(settings)

    @provide
    def worker_settings(self, settings: Settings) -> WorkerSettings:
        return WorkerSettings(concurrency=settings.get("worker.concurrency", 32),
                              shutdown_grace_s=settings.get("worker.shutdown_grace_s", 30.0),
                              reaper_interval_s=settings.get("sessions.reaper_interval_s", 30.0))
