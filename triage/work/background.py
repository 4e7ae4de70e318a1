"""The background work of a process that holds a :class:`~triage.work.serving.Serving`: the connectors'
queued work, the mailbox poller, and the periodic checks (by name, with their intervals), whether they run
on threads of the serving process (embedded) or as jobs of the queue (``helpdesk worker``)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from triage.channels.connectors.sync import ConnectorWork, Desk
from triage.channels.mail.poller import MailPoller
from triage.channels.mail.service import desk_poller
from triage.channels.webhooks.delivery import Deliverer
from triage.work.serving import Serving

__all__ = (
    "BackgroundLock",
    "EmbeddedBackground",
    "Periodic",
    "connector_work",
    "mail_poller",
    "periodic_checks",
    "start_mail",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    """A check that runs every ``seconds`` (blocking: off the event loop)."""

    name: str
    seconds: float
    run: Callable[[], Any]


def mail_poller(serving: Serving) -> MailPoller:
    """The mailbox poller: new tickets get this process's suggestions."""
    top_k = serving.settings.api.default_top_k
    return desk_poller(
        serving.settings,
        serving.sessions,
        lambda subject, body: serving.suggest(subject, body, top_k),
        lambda: serving.knowledge,
        lambda: serving.encoder,
        lambda drafts: serving.suggest_many([(subject, body, top_k) for subject, body in drafts]),
    )


def start_mail(serving: Serving) -> MailPoller:
    """The mailbox poller on a daemon thread beside the server (IDLE, or a poll every interval)."""
    poller = mail_poller(serving)
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


def periodic_checks(serving: Serving) -> list[Periodic]:
    """The checks every deployment runs: incident spikes and SLA risk (the mailbox has its own poller
    when embedded; the queue polls it as one more check)."""
    settings = serving.settings
    return [
        Periodic("incidents", settings.assist.incident_poll_seconds, serving.detect_incidents_now),
        Periodic("sla", settings.api.sla_poll_seconds, serving.watch_sla_now),
    ]


class BackgroundLock:
    """Which of the processes of one ``helpdesk serve`` runs the embedded background work: the one that
    holds an exclusive lock on ``background.lock`` in the folder ``helpdesk serve`` gives its workers
    (``HELPDESK_WORKERS_DIR``). Without one (a single process) the process runs it. The lock goes with
    its process: when that worker dies, another takes it at its next try."""

    def __init__(self, workers_dir: str) -> None:
        self.path = os.path.join(workers_dir, "background.lock") if workers_dir else ""
        self._handle = None

    def acquire(self) -> bool:
        """Whether this process runs the background work (taking the lock now if it is free)."""
        if not self.path or self._handle is not None:
            return True
        import fcntl

        handle = open(self.path, "a+b")  # noqa: SIM115 - held open for the process's life: that is the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._handle = handle
        return True


class EmbeddedBackground:
    """The background work a serving process runs itself when there is no job queue: the periodic checks,
    the webhook deliverer and the mailbox poller, in the one process of a ``helpdesk serve`` that holds
    its :class:`BackgroundLock`."""

    def __init__(self, serving: Serving) -> None:
        self.serving = serving
        self.lock = BackgroundLock(serving.settings.api.workers_dir)
        self.checks: list[Periodic] = []
        self._last: list[float] = []
        self._deliverer: Deliverer | None = None
        self._mail: MailPoller | None = None
        self._started = False

    def start(self) -> bool:
        """Start the work if this process holds the lock (now or already); returns whether it runs it."""
        if self._started:
            return True
        if not self.lock.acquire():
            return False
        self._started = True
        serving, hooks = self.serving, self.serving.settings.webhooks
        if hooks.enabled:
            self._deliverer = Deliverer(serving.sessions, hooks, handlers={"connector": connector_work(serving)})
            self._deliverer.start()
        if serving.settings.mail.enabled:
            self._mail = start_mail(serving)
        self.checks = periodic_checks(serving)
        self._last = [time.monotonic()] * len(self.checks)
        if self.lock.path:
            log.info("this worker (pid %d) runs the background work of the server's workers", os.getpid())
        return True

    def due(self) -> list[Periodic]:
        """The checks whose interval has passed since they last ran (each counted as run now)."""
        now, due = time.monotonic(), []
        for n, check in enumerate(self.checks):
            if now - self._last[n] >= check.seconds:
                self._last[n] = now
                due.append(check)
        return due

    def close(self) -> None:
        """Stop the mailbox poller and the deliverer (blocking: off the event loop)."""
        if self._mail is not None:
            self._mail.stop()  # its thread ends after the IDLE wait in progress (a daemon: it does not hold exit)
        if self._deliverer is not None:
            self._deliverer.close()
