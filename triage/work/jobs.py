"""Jobs by kind (training, connector backfills): what each runs, started in a thread of the process that
took the request (embedded) or queued for a ``helpdesk worker`` (``HELPDESK_BACKGROUND=queue``). Either
way the job's row in ``jobs`` is what ``GET /v1/jobs/{id}`` shows."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from models.audit import Actor, record_audit
from models.db import session_scope
from triage.bundles.jobs import Progress, claim_job, run_job, start_job
from triage.bundles.retrain import retrain
from triage.channels.connectors.backfill import backfill
from triage.channels.connectors.registry import get_connector
from triage.work.queue import enqueue_job, queue_enabled
from triage.work.serving import Serving

__all__ = ("KINDS", "run_queued_job", "start_backfill", "start_training")

log = logging.getLogger(__name__)
Work = Callable[[Serving, dict[str, Any], Actor | None, Progress], dict[str, Any]]


def _train(serving: Serving, params: dict[str, Any], actor: Actor | None, progress: Progress) -> dict[str, Any]:
    models = serving.settings.models
    options = {k: datetime.fromisoformat(v) if k in ("since", "until") and v else v for k, v in params.items()}
    return retrain(
        serving.sessions,
        serving.base_encoder,
        models.artifacts_dir,
        redact_patterns=models.redact_patterns,
        actor=actor,
        progress=progress,
        **options,
    )


def _backfill(serving: Serving, params: dict[str, Any], actor: Actor | None, progress: Progress) -> dict[str, Any]:
    def note(counts: Counter[str]) -> None:
        done = counts["created"] + counts["skipped"]
        progress(f"page {counts['pages']}", done, done)

    cache = serving.embedding_cache()
    return backfill(
        serving.sessions, params["connector"], serving.encoder, cache, redactor=serving.redactor, progress=note
    )


KINDS: dict[str, Work] = {"train": _train, "backfill": _backfill}


def _start(serving: Serving, kind: str, params: dict[str, Any], actor: Actor | None, audit: Callable) -> str:
    """Record a queued job of ``kind`` (409 while one is live), its audit entry (``audit(session, job_id)``)
    and, on the queue, the queue's job, all in one transaction; embedded, start its thread. The job id."""
    queued = queue_enabled(serving.settings)
    with session_scope(serving.sessions) as session:
        job_id = start_job(session, kind, params, runner="queue" if queued else "thread").id
        audit(session, job_id)
        if queued:
            enqueue_job(session, job_id, kind, actor)
    if not queued:

        def work(progress: Progress) -> dict[str, Any]:
            return KINDS[kind](serving, params, actor, progress)

        threading.Thread(
            target=run_job, args=(serving.sessions, job_id, work), name=f"job-{job_id}", daemon=True
        ).start()
    return job_id


def start_training(serving: Serving, actor: Actor | None = None, **options: Any) -> str:
    """Start retraining (:func:`triage.bundles.retrain.retrain` with ``options``, which must be JSON values
    but for ``since`` and ``until``); returns the job id at once. 409 while another training job is live."""
    params = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in options.items()}

    def audit(session, job_id: str) -> None:
        record_audit(session, actor, "model.training_started", f"job:{job_id}", promote=bool(params.get("promote")))

    return _start(serving, "train", params, actor, audit)


def start_backfill(serving: Serving, name: str, actor: Actor | None = None) -> str:
    """Start importing the connector ``name``'s resolved tickets (404 for no such connector, 409 while a
    backfill runs); returns the job id at once."""

    def audit(session, job_id: str) -> None:
        get_connector(session, name)
        record_audit(session, actor, "connector.backfill_started", f"connector:{name}", job=job_id)

    return _start(serving, "backfill", {"connector": name}, actor, audit)


def run_queued_job(serving: Serving, job_id: str, actor: Actor | None) -> None:
    """Run the job ``job_id`` for the queue (blocking). A job that already ended is left alone; one that
    another live run holds raises :class:`~triage.bundles.jobs.JobHeld`; an unexpected error before the
    last attempt puts it back to queued and is raised for the queue to retry it."""
    work = serving.settings.work
    job = claim_job(serving.sessions, job_id, stale_after=work.stalled_seconds)
    if job is None:
        log.info("job %s already ended; nothing to run", job_id)
        return
    retry = job.attempts < work.job_attempts

    def run(progress: Progress) -> dict[str, Any]:
        return KINDS[job.kind](serving, job.params, actor, progress)

    beat = max(0.5, work.stalled_seconds / 6)  # as often as the worker's own heartbeat
    run_job(serving.sessions, job_id, run, retry=retry, claimed=True, heartbeat_seconds=beat)
