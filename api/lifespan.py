"""A serving process's life: load the encoder, the active bundle and the KB index before serving, keep
them current while it serves, and run the mailbox poller and webhook deliverer beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from litestar import Litestar
from sqlalchemy.orm import Session

from api.serving import Serving
from triage.channels.connectors.sync import ConnectorWork, Desk
from triage.channels.mail.poller import MailPoller
from triage.channels.mail.service import desk_poller
from triage.channels.webhooks.delivery import Deliverer
from triage.ml.batching import MicroBatcher, MicroBatchingEncoder
from triage.ml.encoders import configured_encoder

__all__ = ("connector_work", "serving_lifespan")

log = logging.getLogger(__name__)


def _start_mail(serving: Serving) -> MailPoller:
    """The mailbox poller beside the server: new tickets get this process's suggestions."""
    top_k = serving.settings.api.default_top_k
    poller = desk_poller(
        serving.settings,
        serving.sessions,
        lambda subject, body: serving.suggest(subject, body, top_k),
        lambda: serving.knowledge,
        lambda: serving.encoder,
        lambda drafts: serving.suggest_many([(subject, body, top_k) for subject, body in drafts]),
    )
    threading.Thread(target=poller.run, name="mail-poller", daemon=True).start()
    log.info("polling mailbox %s", serving.settings.mail.mailbox)
    return poller


def connector_work(serving: Serving) -> ConnectorWork:
    """The connectors' queued work with this process's suggestions and recommended replies."""
    top_k = serving.settings.api.default_top_k

    def replies(session: Session, ticket_id: int) -> list[dict[str, Any]]:
        return serving.assistant().assist(session, ticket_id, agent=None)["replies"]

    desk = Desk(lambda subject, body: serving.suggest(subject, body, top_k), replies, serving.settings.api.base_url())
    return ConnectorWork(serving.sessions, desk, timeout=serving.settings.webhooks.timeout_seconds)


@contextlib.asynccontextmanager
async def serving_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Load the encoder and the active bundle before serving, then poll for a newly active bundle."""
    serving: Serving = app.state.serving
    if serving.encoder is None:
        serving.encoder = await anyio.to_thread.run_sync(lambda: configured_encoder(serving.settings).load())
    serving.configured_encoder = serving.encoder
    api = serving.settings.api
    batcher = None
    if api.batch_max > 1:  # concurrent requests' texts are encoded (and drafts classified) together
        wait, timeout = api.batch_wait_ms / 1000, api.batch_timeout_seconds
        batcher = serving.micro_batched(serving.encoder)
        serving.encoder = batcher
        serving.suggest_batcher = MicroBatcher(
            serving.suggest_many, max_wait=wait, max_batch=api.batch_max, timeout=timeout, name="suggestions"
        )
    try:
        await serving.refresh()
    except Exception:  # a damaged bundle must not stop intake; /ready stays 503
        log.exception("could not load the active bundle")
    try:
        await serving.refresh_knowledge()
    except Exception:
        log.exception("could not build the KB index")

    # blocking checks run off the event loop, each at its own interval: (interval, check)
    periodic = [
        (serving.settings.assist.incident_poll_seconds, serving.detect_incidents_now),
        (serving.settings.api.sla_poll_seconds, serving.watch_sla_now),
    ]

    async def poll() -> None:
        last = [time.monotonic()] * len(periodic)
        while True:
            await asyncio.sleep(serving.settings.api.reload_poll_seconds)
            for refresh in (serving.refresh, serving.refresh_knowledge):
                try:
                    await refresh()
                except Exception:
                    log.exception("%s failed", refresh.__name__)
            for n, (interval, check) in enumerate(periodic):
                if time.monotonic() - last[n] < interval:
                    continue
                last[n] = time.monotonic()
                try:
                    await anyio.to_thread.run_sync(check)
                except Exception:
                    log.exception("%s failed", check.__name__)

    task = asyncio.create_task(poll())
    hooks = serving.settings.webhooks
    deliverer = None
    if hooks.enabled:
        deliverer = Deliverer(serving.sessions, hooks, handlers={"connector": connector_work(serving)}).start()
    mail = _start_mail(serving) if serving.settings.mail.enabled else None
    try:
        yield
    finally:
        if mail is not None:
            mail.stop()  # its thread ends after the IDLE wait in progress (a daemon: it does not hold exit)
        if deliverer is not None:
            await anyio.to_thread.run_sync(deliverer.close)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if batcher is not None:
            await anyio.to_thread.run_sync(serving.suggest_batcher.close)
            serving.suggest_batcher = None
        if isinstance(serving.encoder, MicroBatchingEncoder):  # the one started here or a bundle's since
            batched, serving.encoder = serving.encoder, serving.encoder.inner
            await anyio.to_thread.run_sync(batched.close)
