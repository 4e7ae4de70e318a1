"""Wake a worker's deliverer the moment any process commits outbox deliveries: PostgreSQL's LISTEN on the
channel ``emit_event`` notifies (a poll every ``HELPDESK_WEBHOOK_POLL_SECONDS`` stays as the fallback)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from models.outbox import OUTBOX_CHANNEL

__all__ = ("OutboxListener",)

log = logging.getLogger(__name__)


class OutboxListener:
    """A daemon thread that calls ``wake()`` on every outbox notification; reconnects after an error."""

    def __init__(self, conninfo: str, wake: Callable[[], None]) -> None:
        self.conninfo = conninfo
        self.wake = wake
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-listener", daemon=True)

    def start(self) -> OutboxListener:
        self._thread.start()
        return self

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=1.0):
                            self.wake()
            except Exception:  # the database may be away for a moment: the deliverer still polls
                log.warning("outbox listener lost its connection; reconnecting", exc_info=True)
                self._stop.wait(2.0)

    def close(self) -> None:
        """Stop listening (within a second)."""
        self._stop.set()
        self._thread.join(timeout=5)
