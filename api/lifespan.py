"""A serving process's life: load the encoder, the active bundle and the KB index before serving, keep
them current while it serves and, with the embedded default, run the background work beside it (the
mailbox poller, the webhook deliverer and the periodic checks); with ``HELPDESK_BACKGROUND=queue`` that
work is the workers' (``helpdesk worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import anyio.to_thread
from litestar import Litestar

from triage.channels.webhooks.delivery import Deliverer
from triage.ml.batching import MicroBatcher, MicroBatchingEncoder
from triage.ml.encoders import configured_encoder
from triage.work.background import connector_work, periodic_checks, start_mail
from triage.work.queue import queue_enabled
from triage.work.serving import Serving

__all__ = ("serving_lifespan",)

log = logging.getLogger(__name__)


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

    embedded = not queue_enabled(serving.settings)  # else the workers run the background work
    serving.fits_nothing_fits = embedded  # on the queue, a worker refits the nothing-fits model for everyone
    # blocking checks run off the event loop, each at its own interval
    periodic = periodic_checks(serving) if embedded else []

    async def poll() -> None:
        last = [time.monotonic()] * len(periodic)
        while True:
            await asyncio.sleep(serving.settings.api.reload_poll_seconds)
            await serving.keep_current()
            for n, check in enumerate(periodic):
                if time.monotonic() - last[n] < check.seconds:
                    continue
                last[n] = time.monotonic()
                try:
                    await anyio.to_thread.run_sync(check.run)
                except Exception:
                    log.exception("the %s check failed", check.name)

    task = asyncio.create_task(poll())
    hooks = serving.settings.webhooks
    deliverer = None
    if hooks.enabled and embedded:
        deliverer = Deliverer(serving.sessions, hooks, handlers={"connector": connector_work(serving)}).start()
    mail = start_mail(serving) if serving.settings.mail.enabled and embedded else None
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
