"""``helpdesk worker``: a process that runs the queue's jobs (training, backfills), the periodic checks
(incident spikes, SLA risk, the mailbox, stalled jobs) once per tick across all workers, and the outbox's
deliveries (webhooks and connector write-backs; each claimed by one worker under a lease). It holds its own
encoder, active bundle and KB index, kept current like a serving process's, for the suggestions that mail
and connector work need. Start as many as the load needs; kill any of them: its jobs go to another."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

import anyio.to_thread

from models.db import make_engine, make_session_factory, session_scope
from models.errors import InvalidInput
from models.settings import Settings
from triage.bundles.jobs import JobHeld
from triage.channels.webhooks.delivery import Deliverer
from triage.ml.encoders import configured_encoder
from triage.work.background import Periodic, connector_work, mail_poller, periodic_checks
from triage.work.jobs import run_queued_job
from triage.work.notify import OutboxListener
from triage.work.queue import JOB_TASK, QUEUES, actor_from, conninfo, cron_every, queue_enabled, requeue_later
from triage.work.serving import Serving

__all__ = ("build_queue", "run_worker")

log = logging.getLogger(__name__)


def _job_task(context: Any, job_id: str, kind: str, actor: dict[str, Any] | None = None) -> None:
    serving: Serving = context.additional_context["serving"]
    try:
        run_queued_job(serving, job_id, actor_from(actor))
    except JobHeld as held:  # a live run has it (or its heartbeat is not old enough yet): look again soon
        log.info("%s; trying again later", held)
        with session_scope(serving.sessions) as session:
            later = max(1.0, serving.settings.work.stalled_seconds / 3)
            requeue_later(session, job_id, kind, actor_from(actor), later)


def build_queue(settings: Settings, checks: list[Periodic]) -> Any:
    """The procrastinate app on the settings' PostgreSQL: the job task, ``checks`` as periodic tasks (one
    at a time each, deferred once per tick across workers) and the stalled-job sweep."""
    from procrastinate import App, PsycopgConnector, RetryStrategy

    work = settings.work
    app = App(connector=PsycopgConnector(conninfo=conninfo(settings.database.url), min_size=1, max_size=8))
    retry = RetryStrategy(max_attempts=work.job_attempts, exponential_wait=work.retry_wait_seconds)
    app.task(name=JOB_TASK, queue="jobs", pass_context=True, retry=retry)(_job_task)

    for check in checks:

        def run_check(context: Any, timestamp: int, check: Periodic = check) -> None:
            check.run()

        task = app.task(name=f"helpdesk.{check.name}", queue="periodic", pass_context=True, lock=check.name)
        app.periodic(cron=cron_every(check.seconds), periodic_id=check.name, queueing_lock=check.name)(task(run_check))

    async def retry_stalled(timestamp: int) -> None:
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=work.stalled_seconds):
            log.warning("job %s (%s) lost its worker; queued again", job.id, job.task_name)
            await app.job_manager.retry_job(job)

    sweep = app.task(name="helpdesk.stalled", queue="periodic", lock="stalled")
    app.periodic(cron=cron_every(max(1.0, work.stalled_seconds / 3)), periodic_id="stalled", queueing_lock="stalled")(
        sweep(retry_stalled)
    )
    return app


async def _keep_current(serving: Serving) -> None:
    """Load a newly promoted bundle and a changed KB, like a serving process."""
    while True:
        await asyncio.sleep(serving.settings.api.reload_poll_seconds)
        await serving.keep_current()


async def _run(serving: Serving, concurrency: int, name: str) -> None:
    settings = serving.settings
    serving.encoder = await anyio.to_thread.run_sync(lambda: configured_encoder(settings).load())
    serving.configured_encoder = serving.encoder
    serving.fits_nothing_fits = False  # refits are the periodic job's: once for the deployment
    await serving.keep_current()  # a damaged bundle must not stop training or deliveries
    checks = periodic_checks(serving)
    refit = settings.models.kb_refit_seconds
    checks.append(Periodic("nothing_fits", refit, lambda: serving.refresh_knowledge_now(due=True)))
    if settings.mail.enabled:
        poller = mail_poller(serving)
        checks.append(Periodic("mail", settings.mail.poll_seconds, poller.poll_once))
    app = build_queue(settings, checks)
    deliverer = listener = None
    if settings.webhooks.enabled:
        handlers = {"connector": connector_work(serving)}
        deliverer = Deliverer(serving.sessions, settings.webhooks, handlers=handlers).start()
        listener = OutboxListener(conninfo(settings.database.url), deliverer.wake).start()
    current = asyncio.create_task(_keep_current(serving))
    work = settings.work
    try:
        async with app.open_async():
            log.info("worker %s: %d jobs at a time from queues %s", name, concurrency, ", ".join(QUEUES))
            await app.run_worker_async(
                queues=list(QUEUES),
                name=name,
                concurrency=concurrency,
                additional_context={"serving": serving},
                update_heartbeat_interval=max(0.5, work.stalled_seconds / 6),
                stalled_worker_timeout=work.stalled_seconds,
                delete_jobs="successful",
            )
    finally:
        current.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await current
        if listener is not None:
            await anyio.to_thread.run_sync(listener.close)
        if deliverer is not None:
            await anyio.to_thread.run_sync(deliverer.close)


def run_worker(settings: Settings, *, concurrency: int | None = None) -> None:
    """Run a worker until SIGINT or SIGTERM (jobs in progress finish first; a killed worker's jobs are
    picked up by another). Refused, naming the setting, unless ``HELPDESK_BACKGROUND=queue`` on PostgreSQL."""
    if not queue_enabled(settings):
        raise InvalidInput(
            "helpdesk worker runs the job queue: set HELPDESK_BACKGROUND=queue (PostgreSQL); with the embedded "
            "default, background work runs inside `helpdesk serve`",
            field="HELPDESK_BACKGROUND",
        )
    engine = make_engine(settings.database.url, busy_timeout_ms=settings.database.busy_timeout_ms)
    serving = Serving(settings=settings, sessions=make_session_factory(engine))
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        asyncio.run(_run(serving, concurrency or settings.work.worker_concurrency, name))
    finally:
        engine.dispose()
