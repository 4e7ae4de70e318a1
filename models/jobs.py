"""Background jobs (retraining): their state and progress live in the database, so any process can
report on a job that another one runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("JOB_STATES", "Job")

JOB_STATES = ("queued", "running", "succeeded", "failed")


class Job(Base):
    """One background job; ``heartbeat_at`` moves while it runs, so a job whose process died shows up.
    ``runner`` says who runs it: ``thread`` (the process that took the request) or ``queue`` (a worker,
    which the queue replaces when it dies: ``attempts`` counts the runs begun)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index(
            "uq_jobs_one_live",
            "kind",
            unique=True,
            sqlite_where=text("state IN ('queued', 'running')"),
            postgresql_where=text("state IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    runner: Mapped[str] = mapped_column(String(20), default="thread", server_default="thread")
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    progress: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
