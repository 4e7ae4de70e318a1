"""The job queue past one machine: procrastinate, whose jobs live in the deployment's own PostgreSQL
(nothing new to run). Jobs are queued in the transaction that records them, retried with back-off, run one
per lock at a time (a training job holds the ``job:train`` slot), and handed to another worker when theirs
stops sending heartbeats. Periodic checks are deferred once per tick across every worker (the database
refuses a second defer of the same tick)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from models.audit import Actor
from models.base import utcnow
from models.errors import InvalidInput
from models.settings import Settings

__all__ = (
    "JOB_TASK",
    "QUEUES",
    "actor_from",
    "conninfo",
    "cron_every",
    "enqueue_job",
    "queue_enabled",
    "requeue_later",
)

log = logging.getLogger(__name__)
JOB_TASK = "helpdesk.job"  # runs one row of ``jobs`` (training, backfill)
QUEUES = ("jobs", "periodic")


def queue_enabled(settings: Settings) -> bool:
    """Whether background work goes to the queue (``HELPDESK_BACKGROUND=queue``); refused (naming the
    setting) on a database other than PostgreSQL, where the embedded threads are the only way."""
    if settings.work.background != "queue":
        return False
    if not settings.database.postgresql:
        raise InvalidInput(
            "HELPDESK_BACKGROUND=queue needs PostgreSQL (HELPDESK_DATABASE_URL); on SQLite background work "
            "runs in the serving process",
            field="HELPDESK_BACKGROUND",
        )
    return True


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL URL (the driver name dropped)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def _actor_args(actor: Actor | None) -> dict[str, Any] | None:
    return None if actor is None else {"name": actor.name, "role": actor.role, "key_id": actor.key_id}


def actor_from(args: dict[str, Any] | None) -> Actor | None:
    """The actor a queued job was started by (see :func:`enqueue_job`)."""
    return None if not args else Actor(args["name"], args["role"], args.get("key_id"))


def enqueue_job(session: Session, job_id: str, kind: str, actor: Actor | None, *, at: datetime | None = None) -> None:
    """Queue the ``jobs`` row ``job_id`` for a worker in ``session``'s transaction (procrastinate's own
    defer statement on the same connection: the row and its queue entry commit together or not at all),
    to run no earlier than ``at``. Jobs of one kind take one lock: they never run side by side."""
    from procrastinate import sql
    from procrastinate.sync_psycopg_connector import SyncPsycopgConnector
    from procrastinate.types import JobToDefer

    job = JobToDefer(
        queue_name="jobs",
        task_name=JOB_TASK,
        priority=0,
        lock=f"job:{kind}",
        queueing_lock=None,
        args={"job_id": job_id, "kind": kind, "actor": _actor_args(actor)},
        scheduled_at=at,
    )
    connection = session.connection().connection.driver_connection
    SyncPsycopgConnector().execute_query_all_with_connection(connection, query=sql.queries["defer_jobs"], jobs=[job])


def requeue_later(session: Session, job_id: str, kind: str, actor: Actor | None, seconds: float) -> None:
    """Queue ``job_id`` again to run in ``seconds`` (another run holds it now)."""
    enqueue_job(session, job_id, kind, actor, at=utcnow() + timedelta(seconds=seconds))


def cron_every(seconds: float) -> str:
    """A cron line (procrastinate's, with seconds as the sixth field) that fires about every ``seconds``:
    under a minute by seconds, under an hour by minutes, else by hours."""
    if seconds < 60:
        return f"* * * * * */{max(1, round(seconds))}"
    if seconds < 3600:
        return f"*/{max(1, round(seconds / 60))} * * * *"
    return f"0 */{min(23, max(1, round(seconds / 3600)))} * * *"
