"""The work on a connector's queue, done by the deliverer with the outbox's leases, retries and log:

- ``connector.received``: read the ticket from the helpdesk; a new open ticket is taken in and triaged (and
  a write-back queued), a resolved or closed one resolves ours with its final labels (training data; the
  agent's changes to our write-back are recorded as overrides), one reopened there is reopened here;
- ``connector.write_back``: the internal note (once: it carries our marker) and the fields we are sure of
  that nobody set.

A failed call to the helpdesk is retried with back-off; one that cannot succeed (the ticket was deleted,
the helpdesk refused the call) is given up at once and stays in the delivery log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Suggestion, Ticket
from models.audit import Actor, record_audit
from models.base import utcnow
from models.connectors import ConnectorInbound, HelpdeskConnector
from models.db import session_scope
from models.errors import DomainError
from models.outbox import OutboxEvent, emit_event
from triage.channels.connectors.base import MARKER, Connector, RemoteError, RemoteTicket
from triage.channels.connectors.history import external_id, history_values, remote_labels
from triage.channels.connectors.inbound import remote_subject
from triage.channels.connectors.kinds import connector_class
from triage.channels.connectors.notes import Note, field_writes
from triage.channels.connectors.registry import Labels, build_connector
from triage.channels.webhooks.sending import Attempt
from triage.desk.lifecycle import OPEN_STATUSES, resolve_ticket, update_ticket
from triage.desk.suggest import Suggestions
from triage.desk.tickets import intake_ticket
from triage.sla.store import record_first_response, start_clock

__all__ = ("HELD_SECONDS", "ConnectorWork", "Desk", "inbound_log")

HELD_SECONDS = 600.0  # how long one connector object (its connections, the groups it read) is reused


def _first_reply(session: Session, ticket: Ticket, remote: RemoteTicket) -> None:
    """The helpdesk's first public agent answer is the ticket's first response (the SLA's)."""
    if remote.first_reply_at is not None:
        record_first_response(session, ticket, remote.first_reply_at)


@dataclass(frozen=True)
class Desk:
    """What the work needs of the serving process: suggestions for a new ticket, recommended replies for a
    stored one (``[]`` when there are none), and the public base URL article links start with."""

    suggest: Callable[[str, str], Suggestions]
    replies: Callable[[Session, int], list[dict[str, Any]]]
    base_url: str


class ConnectorWork:
    """The deliverer's handler for connector queues (``Deliverer(handlers={"connector": work})``)."""

    def __init__(self, sessions: sessionmaker[Session], desk: Desk, *, timeout: float = 10.0) -> None:
        self.sessions = sessions
        self.desk = desk
        self.timeout = timeout
        self._lock = threading.Lock()
        # per connector id: (its row's updated_at, when made, the connector): its open HTTP connections and
        # what it read once (a helpdesk's groups) serve the next pieces of work too
        self._held: dict[int, tuple[datetime, float, Connector]] = {}

    def _connector(self, row: HelpdeskConnector) -> Connector:
        """The connector object for ``row``, reused until the row changes or it is :data:`HELD_SECONDS` old
        (a group renamed in the helpdesk is then read again)."""
        now = time.monotonic()
        with self._lock:
            held = self._held.get(row.id)
            if held is None or held[0] != row.updated_at or now - held[1] > HELD_SECONDS:
                held = self._held[row.id] = (row.updated_at, now, build_connector(row, timeout=self.timeout))
            return held[2]

    def close(self) -> None:
        """Release the connectors' HTTP clients (when the deliverer stops)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for _, _, connector in held:
            connector.close()

    def __call__(self, subscription_id: int, event: OutboxEvent) -> Attempt:
        started = time.monotonic()
        with session_scope(self.sessions) as session:
            row = session.scalar(select(HelpdeskConnector).where(HelpdeskConnector.subscription_id == subscription_id))
            if row is not None:
                session.expunge(row)
        if row is None:
            return Attempt(None, "the connector was removed", time.monotonic() - started, final=True)
        connector = self._connector(row)
        try:
            if event.type == "connector.received":
                done = self.received(row, connector, event.payload)
            elif event.type == "connector.write_back":
                done = self.write_back(row, connector, event.payload)
            else:
                return Attempt(None, f"not a connector event: {event.type}", time.monotonic() - started, final=True)
        except RemoteError as error:
            self._failed(event)
            seconds = time.monotonic() - started
            return Attempt(error.status, str(error)[:500], seconds, final=not error.retry)
        except DomainError as error:  # the ticket cannot be taken in as it is (no text, say)
            self._failed(event)
            return Attempt(None, error.detail[:500], time.monotonic() - started, final=True)
        return Attempt(200, None, time.monotonic() - started, done)

    def _failed(self, event: OutboxEvent) -> None:
        """Record that a received delivery's work failed (for now: a retry that succeeds says so again)."""
        if event.type != "connector.received":
            return
        with session_scope(self.sessions) as session:
            inbound = session.get(ConnectorInbound, event.payload.get("inbound_id"))
            if inbound is not None:
                inbound.outcome, inbound.processed_at = "failed", utcnow()

    def received(self, row: HelpdeskConnector, connector: Connector, payload: dict[str, Any]) -> str:
        """Take in, resolve or reopen our copy of the helpdesk's ticket; returns what was done."""
        remote = connector.fetch_ticket(payload["remote_id"])
        labels = Labels(row, connector_class(row.kind))
        actor = Actor(f"connector:{row.name}", "connector")
        with session_scope(self.sessions) as session:
            ticket = session.scalar(select(Ticket).where(Ticket.external_id == external_id(row.name, remote.id)))
            outcome = self._apply(session, row, remote, labels, ticket, actor)
            inbound = session.get(ConnectorInbound, payload.get("inbound_id"))
            if inbound is not None:
                inbound.outcome, inbound.processed_at = outcome.split(":")[0], utcnow()
                current = session.scalar(
                    select(Ticket.id).where(Ticket.external_id == external_id(row.name, remote.id))
                )
                inbound.ticket_id = current
        return outcome

    def _apply(
        self,
        session: Session,
        row: HelpdeskConnector,
        remote: RemoteTicket,
        labels: Labels,
        ticket: Ticket | None,
        actor: Actor,
    ) -> str:
        closed = remote.status in ("resolved", "closed")
        if ticket is None and closed:
            ticket = Ticket(**history_values(row.name, row.kind, remote, labels))
            session.add(ticket)
            session.flush()
            start_clock(session, ticket)  # history is measured against the policy in force
            _first_reply(session, ticket, remote)
            return "history: stored as a resolved ticket"
        if ticket is None:
            ticket, suggestion = intake_ticket(
                session,
                self.desk.suggest,
                actor,
                subject=remote.subject[:1000],
                body=remote.body,
                requester=remote.requester,
                channel=row.kind,
                external_id=external_id(row.name, remote.id),
                priority=remote_labels(remote, labels).get("priority"),  # one a person chose there starts the SLA
            )
            _first_reply(session, ticket, remote)
            emit_event(
                session,
                "connector.write_back",
                {"connector": row.name, "ticket_id": ticket.id, "suggestion_id": suggestion.id, "remote_id": remote.id},
                subject=remote_subject(row.name, remote.id),
                only_subscription=row.subscription_id,
            )
            return f"triaged: ticket {ticket.id}"
        if closed and ticket.status in OPEN_STATUSES:
            resolution = (remote.resolution or "").strip() or f"{remote.status.capitalize()} in {row.kind}"
            resolve_ticket(
                session, ticket.id, resolution=resolution, labels=remote_labels(remote, labels), actor=actor.name
            )
            record_audit(session, actor, "ticket.resolved", f"ticket:{ticket.id}", remote_id=remote.id)
            return f"resolved: ticket {ticket.id}"
        _first_reply(session, ticket, remote)
        if not closed and ticket.status == "resolved":
            update_ticket(session, ticket.id, labels={}, status="open", actor=actor.name)
            return f"reopened: ticket {ticket.id}"
        if remote.status == "pending" and ticket.status in ("new", "open"):  # waiting for the customer there
            update_ticket(session, ticket.id, labels={}, status="pending", actor=actor.name)
            return f"pending: ticket {ticket.id} waits for the customer"
        if remote.status == "open" and ticket.status == "pending":
            update_ticket(session, ticket.id, labels={}, status="open", actor=actor.name)
            return f"open: ticket {ticket.id} no longer waits"
        return f"unchanged: ticket {ticket.id} is {ticket.status}"

    def write_back(self, row: HelpdeskConnector, connector: Connector, payload: dict[str, Any]) -> str:
        """Write the note (unless it is there already) and the fields we are sure of; returns what was done."""
        remote = connector.fetch_ticket(payload["remote_id"])
        suggestion_id = int(payload["suggestion_id"])
        with session_scope(self.sessions) as session:
            suggestion = session.get(Suggestion, suggestion_id)
            if suggestion is None:
                return "skipped: the suggestion was removed"
            predictions, articles = dict(suggestion.predictions or {}), list(suggestion.articles or [])
            version = suggestion.bundle_version
            replies = self._replies(session, payload["ticket_id"]) if row.note else []
        writes = field_writes(remote, predictions, row.write_fields or [], Labels(row, connector_class(row.kind)))
        done = []
        if row.note and not any(_has_marker(note, suggestion_id) for note in remote.notes):
            note = Note(suggestion_id, predictions, articles, replies, self.desk.base_url, version, writes)
            connector.add_note(remote.id, note.text(), note.html())
            done.append("note added")
        if writes:
            connector.set_fields(remote.id, writes)
            done.append("set " + ", ".join(f"{k}={v}" for k, v in writes.items()))
        return "; ".join(done) or "nothing to write"

    def _replies(self, session: Session, ticket_id: int) -> list[dict[str, Any]]:
        try:
            return self.desk.replies(session, ticket_id)
        except DomainError:  # no bundle or KB yet: the note goes without replies
            return []


def _has_marker(note: str, suggestion_id: int) -> bool:
    """Whether a note is the one we wrote for this suggestion (``...:12`` is not ``...:123``)."""
    marker = f"{MARKER}{suggestion_id}"
    at = note.find(marker)
    return at >= 0 and not note[at + len(marker) : at + len(marker) + 1].isdigit()


def inbound_log(session: Session, row: HelpdeskConnector, limit: int = 50) -> list[ConnectorInbound]:
    """The connector's latest received deliveries, newest first."""
    query = select(ConnectorInbound).where(ConnectorInbound.connector_id == row.id)
    return list(session.scalars(query.order_by(ConnectorInbound.id.desc()).limit(limit)))
