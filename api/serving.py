"""What a serving process holds: the encoder and one reference to the active bundle, swapped whole."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio.to_thread
from litestar import Litestar
from sqlalchemy.orm import Session, sessionmaker

from models.db import session_scope
from models.settings import Settings
from triage.encoder import Encoder, load_encoder
from triage.registry import get_active
from triage.suggest import LoadedBundle, load_bundle
from triage.training import KIND

__all__ = ("Serving", "serving_lifespan")

log = logging.getLogger(__name__)


@dataclass
class Serving:
    """The heavy resources of one process; ``bundle`` is replaced, never mutated."""

    settings: Settings
    sessions: sessionmaker[Session]
    encoder: Encoder | None = None
    bundle: LoadedBundle | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _active_row(self) -> tuple[str, str] | None:
        with session_scope(self.sessions) as session:
            row = get_active(session, KIND)
            return (row.version, row.path) if row else None

    async def refresh(self) -> bool:
        """Load the active bundle if it differs from the one held; returns whether it swapped."""
        async with self._lock:
            active = await anyio.to_thread.run_sync(self._active_row)
            if active is None or (self.bundle and self.bundle.version == active[0]):
                return False
            bundle = await anyio.to_thread.run_sync(load_bundle, Path(active[1]))
            self.bundle = bundle  # one reference swap: in-flight requests keep the old object
            log.info("serving bundle %s", bundle.version)
            return True


@contextlib.asynccontextmanager
async def serving_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Load the encoder and the active bundle before serving, then poll for a newly active bundle."""
    serving: Serving = app.state.serving
    if serving.encoder is None:
        models = serving.settings.models
        serving.encoder = await anyio.to_thread.run_sync(
            lambda: load_encoder(models.encoder, batch_size=models.encode_batch_size)
        )
    try:
        await serving.refresh()
    except Exception:  # a damaged bundle must not stop intake; /ready stays 503
        log.exception("could not load the active bundle")

    async def poll() -> None:
        while True:
            await asyncio.sleep(serving.settings.api.reload_poll_seconds)
            try:
                await serving.refresh()
            except Exception:
                log.exception("bundle refresh failed")

    task = asyncio.create_task(poll())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
