"""A helpdesk's webhook arriving: verified by its own scheme, stored once per delivery id (a replay stores
nothing), and queued; the answer goes back at once and the work (reading the ticket, triage, write-back)
happens on the connector's queue."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.connectors import ConnectorInbound
from models.outbox import emit_event
from triage.channels.connectors.base import InboundEvent
from triage.channels.connectors.registry import build_connector, get_connector

__all__ = ("Received", "receive", "remote_subject")


def remote_subject(name: str, remote_id: str) -> str:
    """The ordering key of a remote ticket's work: one ticket's events are handled in the order received."""
    return f"connector:{name}:{remote_id}"[:100]


def _key(session: Session, connector_id: int, delivery_id: str) -> str | None:
    """What a delivery is stored under, or ``None`` for a duplicate. A helpdesk's own delivery id is seen
    once. A digest of the body (for a helpdesk that sends no id) is a duplicate only while the same body's
    work is still queued (that work reads the ticket as it is by then); once done, the same body is news
    (a ticket reopened to the same status, resolved a second time), and the work reads the ticket again."""
    if not delivery_id.startswith("sha256:"):
        known = select(ConnectorInbound.id).where(
            ConnectorInbound.connector_id == connector_id, ConnectorInbound.delivery_id == delivery_id[:200]
        )
        return None if session.scalar(known) is not None else delivery_id[:200]
    pending = select(ConnectorInbound.id).where(
        ConnectorInbound.connector_id == connector_id,
        ConnectorInbound.delivery_id.startswith(delivery_id + "@", autoescape=True),
        ConnectorInbound.processed_at.is_(None),
    )
    return None if session.scalar(pending.limit(1)) is not None else f"{delivery_id}@{time.time_ns()}"


@dataclass(frozen=True)
class Received:
    """What became of a webhook: ``queued`` (new), ``duplicate`` (that delivery id was seen) or
    ``ignored`` (our own write-back echoed back, or the connector is paused)."""

    outcome: str
    delivery_id: str
    remote_id: str
    inbound_id: int | None = None


def receive(session: Session, name: str, headers: Mapping[str, str], query: Mapping[str, str], body: bytes) -> Received:
    """Verify and queue one webhook delivery for the connector ``name``. Raise
    :class:`~triage.channels.connectors.base.InvalidSignature`
    (nothing is stored) when it does not verify, :class:`~models.errors.InvalidInput` when it is not a
    webhook this helpdesk sends."""
    row = get_connector(session, name)
    connector = build_connector(row)
    try:
        connector.verify(headers, query, body, row.webhook_secret)
        event: InboundEvent = connector.parse_event(headers, body)
    finally:
        connector.close()
    if event.ours or not row.active:
        return Received("ignored", event.delivery_id, event.ticket_id)
    key = _key(session, row.id, event.delivery_id)
    if key is None:
        return Received("duplicate", event.delivery_id, event.ticket_id)
    inbound = ConnectorInbound(connector_id=row.id, delivery_id=key, kind=event.kind, remote_id=event.ticket_id[:100])
    try:
        with session.begin_nested():  # the same delivery may arrive twice at once
            session.add(inbound)
    except IntegrityError:
        return Received("duplicate", event.delivery_id, event.ticket_id)
    emit_event(
        session,
        "connector.received",
        {"connector": row.name, "inbound_id": inbound.id, "remote_id": event.ticket_id, "kind": event.kind},
        subject=remote_subject(row.name, event.ticket_id),
        only_subscription=row.subscription_id,
    )
    return Received("queued", event.delivery_id, event.ticket_id, inbound.id)
