"""The outbox: every change other systems hear about is written as an event row in the same transaction as
the change, with one delivery row per matching webhook subscription. A background worker sends them later;
nothing is lost when the process dies between the commit and the send."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = (
    "DELIVERY_STATES",
    "EVENT_TYPES",
    "OUTBOX_CHANNEL",
    "OutboxEvent",
    "WebhookDelivery",
    "WebhookSubscription",
    "emit_event",
    "on_outbox_commit",
)

EVENT_TYPES = (
    "ticket.created",
    "ticket.updated",
    "ticket.resolved",
    "incident.detected",
    "sla.at_risk",
    "sla.breached",
    "bundle.promoted",
    "bundle.rolled_back",
    "article.published",
    "webhook.test",
)
DELIVERY_STATES = ("pending", "sending", "delivered", "failed")
OUTBOX_CHANNEL = "helpdesk_outbox"  # PostgreSQL notifies it when a transaction with new deliveries commits


class OutboxEvent(Base):
    """One event; ``event_id`` is the ``webhook-id`` every delivery of it carries (retries included)."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str | None] = mapped_column(String(100), index=True)  # "ticket:12": delivered in order
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(Base):
    """An endpoint that receives the events it subscribed to, signed with its own secret; or (``kind``
    ``connector``) the internal queue of one helpdesk connector's work, handled in process, not posted."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="webhook", server_default="webhook")
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)
    secret: Mapped[str] = mapped_column(String(100))  # whsec_...: never returned after creation, never logged
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event to one subscription: its state, attempts and their log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_once"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True)
    ordering_key: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column()
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()


_listeners: list[Callable[[], None]] = []
_listeners_lock = threading.Lock()


def on_outbox_commit(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` (quick, thread-safe) after any session of this process commits outbox events, so a
    deliverer wakes at once instead of at its next poll; returns a function that removes it."""
    with _listeners_lock:
        _listeners.append(callback)

    def remove() -> None:
        with _listeners_lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return remove


@event.listens_for(Session, "after_commit")
def _wake_deliverers(session: Session) -> None:
    if session.info.pop("outbox_events", None):
        with _listeners_lock:
            callbacks = list(_listeners)
        for callback in callbacks:
            callback()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("outbox_events", None)


def _subscribed(subscription: WebhookSubscription, event_type: str) -> bool:
    types = subscription.event_types or []
    return "*" in types or event_type in types


def emit_event(
    session: Session,
    event_type: str,
    data: dict[str, Any],
    *,
    subject: str | None = None,
    only_subscription: int | None = None,
) -> OutboxEvent:
    """Write an event, and a pending delivery for each active subscription to its type (or only for
    ``only_subscription``), in ``session``'s transaction (nothing is sent until it commits). Events with
    the same ``subject`` reach each endpoint in the order they were written."""
    row = OutboxEvent(event_id=f"msg_{secrets.token_hex(12)}", type=event_type, subject=subject, payload=data)
    session.add(row)
    session.flush()
    query = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    if only_subscription is not None:
        query = query.where(WebhookSubscription.id == only_subscription)
    for subscription in session.scalars(query):
        if only_subscription is not None or _subscribed(subscription, event_type):
            session.add(
                WebhookDelivery(
                    subscription_id=subscription.id,
                    event_id=row.id,
                    ordering_key=subject,
                    next_attempt_at=row.created_at,
                )
            )
            session.info["outbox_events"] = True
    if session.info.get("outbox_events") and session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))  # sent at commit: deliverers elsewhere wake at once
    session.flush()
    return row
