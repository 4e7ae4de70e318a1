"""A serving process's life: load the encoder, the active bundle and the KB index before serving, keep
them current while it serves and, with the embedded default, run the background work beside it (the
mailbox poller, the webhook deliverer and the periodic checks); with ``HELPDESK_BACKGROUND=queue`` that
work is the workers' (``helpdesk worker``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import anyio.to_thread
from litestar import Litestar

from triage.ml.batching import MicroBatcher, MicroBatchingEncoder
from triage.ml.encoders import configured_encoder
from triage.work.background import EmbeddedBackground
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
    # of several processes of one `helpdesk serve`, the one holding the lock runs it (another takes over
    # when it dies); blocking checks run off the event loop, each at its own interval
    background = EmbeddedBackground(serving) if embedded else None
    if background is not None:
        background.start()

    async def poll() -> None:
        while True:
            await asyncio.sleep(serving.settings.api.reload_poll_seconds)
            await serving.keep_current()
            if background is None or not background.start():
                continue
            for check in background.due():
                try:
                    await anyio.to_thread.run_sync(check.run)
                except Exception:
                    log.exception("the %s check failed", check.name)

    task = asyncio.create_task(poll())
    try:
        yield
    finally:
        if background is not None:
            await anyio.to_thread.run_sync(background.close)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if batcher is not None:
            await anyio.to_thread.run_sync(serving.suggest_batcher.close)
            serving.suggest_batcher = None
        if isinstance(serving.encoder, MicroBatchingEncoder):  # the one started here or a bundle's since
            batched, serving.encoder = serving.encoder, serving.encoder.inner
            await anyio.to_thread.run_sync(batched.close)
