"""Audit events that record reads (a suggestion served), written in batches by one thread per process.

An event that records a change commits with the change (:func:`models.audit.record_audit`). A served
suggestion changes nothing, and writing its event in the request cost each request a transaction of its
own: on SQLite, concurrent requests queued for the database's one write lock (the busy handler sleeps
between tries), and a lone request paid about a millisecond. Here a request hands the event over and
answers; one thread writes whatever has arrived in one transaction. A normal stop writes what is left;
a process killed outright (SIGKILL, power loss) loses the events of its last moments.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.audit import Actor, record_audit
from models.db import session_scope

__all__ = ("AuditWriter",)

log = logging.getLogger(__name__)

_Event = tuple[Actor | None, str, str | None, dict[str, Any]]


class AuditWriter:
    """Writes :meth:`record`-ed audit events on its own thread, a transaction per batch."""

    def __init__(self, sessions: sessionmaker[Session], *, max_batch: int = 500) -> None:
        self.sessions, self.max_batch = sessions, max_batch
        self.written = 0  # events written so far
        self._queue: queue.SimpleQueue[_Event | threading.Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, actor: Actor | None, action: str, target: str | None = None, **detail: Any) -> None:
        """Queue an event (as :func:`~models.audit.record_audit` takes it) and return at once."""
        self._queue.put((actor, action, target, detail))

    def flush(self, timeout: float = 30) -> bool:
        """Wait until the events recorded before this call are written; returns whether they were."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 30) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            batch: list[_Event] = []
            waiting: list[threading.Event] = []
            item = self._queue.get()
            while True:
                if item is None:
                    self._write(batch)
                    for done in waiting:
                        done.set()
                    return
                if isinstance(item, threading.Event):
                    waiting.append(item)
                else:
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            self._write(batch)
            for done in waiting:
                done.set()

    def _write(self, batch: list[_Event]) -> None:
        if not batch:
            return
        try:
            with session_scope(self.sessions) as session:
                for actor, action, target, detail in batch:
                    record_audit(session, actor, action, target, **detail)
            self.written += len(batch)
        except Exception:  # the database is away: say how many events are lost rather than stop serving
            log.exception("could not write %d audit events", len(batch))
