"""The background work of a process that holds a :class:`~triage.work.serving.Serving`: the connectors'
queued work, the mailbox poller, and the periodic checks (by name, with their intervals), whether they run
on threads of the serving process (embedded) or as jobs of the queue (``helpdesk worker``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from triage.channels.connectors.sync import ConnectorWork, Desk
from triage.channels.mail.poller import MailPoller
from triage.channels.mail.service import desk_poller
from triage.work.serving import Serving

__all__ = ("Periodic", "connector_work", "mail_poller", "periodic_checks", "start_mail")

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
