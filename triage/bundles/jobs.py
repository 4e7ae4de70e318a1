"""Background jobs recorded in the database: start one, run it in a worker thread with progress and a
heartbeat, and read its state from any process.

A job run by a thread whose heartbeat stops (its process died) is reported as failed the next time anyone
reads it or starts another job of its kind; one run by the job queue is handed to another worker instead
(:func:`claim_job` lets one run hold it at a time). The database allows one live (queued or running) job
per kind.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import Job
from models.base import as_utc, utcnow
from models.db import session_scope
from models.errors import DomainError
from triage.errors import JobConflict, JobNotFound

__all__ = ("LIVE", "JobHeld", "claim_job", "get_job", "run_job", "start_job")

log = logging.getLogger(__name__)

LIVE = ("queued", "running")
Progress = Callable[[str, int, int], None]


class JobHeld(Exception):
    """Another run of the job is alive (its heartbeat is recent): this one must not start now."""


def _expire_if_stale(job: Job, stale_after: float) -> None:
    beat = as_utc(job.heartbeat_at or job.created_at)
    if job.runner == "queue":
        return  # the queue hands a dead worker's job to another worker: it is not over
    if job.state in LIVE and utcnow() - beat > timedelta(seconds=stale_after):
        job.state, job.finished_at = "failed", utcnow()
        job.error = f"no heartbeat for {stale_after:.0f} s: the process running it stopped"


def start_job(
    session: Session, kind: str, params: dict[str, Any], *, stale_after: float = 120.0, runner: str = "thread"
) -> Job:
    """Record a queued job (run by ``runner``: ``thread`` or ``queue``); 409 (naming the live one) when a
    job of ``kind`` is already queued or running."""
    for job in session.scalars(select(Job).where(Job.kind == kind, Job.state.in_(LIVE))):
        _expire_if_stale(job, stale_after)
        if job.state in LIVE:
            raise JobConflict(f"{kind} job {job.id} is {job.state}; wait for it to finish", field="kind")
    session.flush()
    job = Job(
        id=uuid.uuid4().hex, kind=kind, state="queued", params=params, progress={}, heartbeat_at=utcnow(), runner=runner
    )
    session.add(job)
    try:
        session.flush()
    except IntegrityError as exc:  # another process started one between our check and insert
        raise JobConflict(f"a {kind} job was just started elsewhere", field="kind") from exc
    return job


def get_job(session: Session, job_id: str, *, stale_after: float = 120.0) -> Job:
    """The job with ``job_id`` (404 if unknown); a live job without a recent heartbeat becomes failed."""
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"no job {job_id!r}", field="job_id")
    _expire_if_stale(job, stale_after)
    session.flush()
    return job


def claim_job(sessions: sessionmaker[Session], job_id: str, *, stale_after: float) -> Job | None:
    """Take the job for this run: it must be queued, or running without a heartbeat for ``stale_after``
    seconds (the run that had it died). Returns the job (detached), ``None`` when it already ended (a run
    that finished before its worker could report it to the queue); :class:`JobHeld` while another run is
    alive. One conditional update, so two runs never both take it."""
    now = utcnow()
    with session_scope(sessions) as session:
        taken = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                or_(
                    Job.state == "queued",
                    and_(Job.state == "running", Job.heartbeat_at < now - timedelta(seconds=stale_after)),
                ),
            )
            .values(state="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}", field="job_id")
        if taken.rowcount == 1:
            session.expunge(job)
            return job
        if job.state in LIVE:
            raise JobHeld(f"job {job_id} is running elsewhere (heartbeat {job.heartbeat_at.isoformat()})")
        return None


def _update(sessions: sessionmaker[Session], job_id: str, **values: Any) -> None:
    with session_scope(sessions) as session:
        job = session.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)


def run_job(
    sessions: sessionmaker[Session],
    job_id: str,
    work: Callable[[Progress], dict[str, Any]],
    *,
    heartbeat_seconds: float = 5.0,
    retry: bool = False,
    claimed: bool = False,
) -> None:
    """Run ``work(progress)`` for a queued job, recording running, progress, the result or the error.
    With ``retry``, an unexpected error puts the job back to ``queued`` (the error kept) and is raised
    again, for the queue to run it later; a domain error (bad input) fails it at once. ``claimed``: the
    caller has already marked it running (:func:`claim_job`).

    Blocking: call it in a worker thread. ``progress(step, done, total)`` is written at most twice a
    second (and at each step's end); a heartbeat thread keeps the job from looking dead meanwhile.
    """
    if not claimed:
        _update(sessions, job_id, state="running", started_at=utcnow(), heartbeat_at=utcnow())
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(heartbeat_seconds):
            try:
                _update(sessions, job_id, heartbeat_at=utcnow())
            except Exception:  # a missed beat is retried; a job that stays silent reads as failed
                log.warning("job %s: could not record a heartbeat", job_id, exc_info=True)

    last = [0.0]

    def progress(step: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 0.5 or done >= total:
            last[0] = now
            _update(sessions, job_id, progress={"step": step, "done": done, "total": total}, heartbeat_at=utcnow())

    heart = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    heart.start()
    try:
        result = work(progress)
    except DomainError as exc:
        _update(sessions, job_id, state="failed", error=exc.detail, finished_at=utcnow())
    except Exception as exc:  # a job must end in a state, whatever went wrong
        error = f"{type(exc).__name__}: {exc}"
        if retry:
            _update(sessions, job_id, state="queued", error=f"{error} (to be retried)", heartbeat_at=utcnow())
            raise
        _update(sessions, job_id, state="failed", error=error, finished_at=utcnow())
    else:
        _update(sessions, job_id, state="succeeded", result=result, error=None, finished_at=utcnow())
    finally:
        stop.set()
        heart.join()
