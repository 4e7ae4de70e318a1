"""Webhook subscriptions (URL, event types, secret), their delivery log, redelivery and a test event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.db import page
from models.outbox import DELIVERY_STATES, EVENT_TYPES, OutboxEvent, WebhookDelivery, WebhookSubscription, emit_event
from triage.channels.webhooks.destinations import check_url
from triage.channels.webhooks.sending import new_secret
from triage.errors import InvalidQuery, WebhookNotFound

__all__ = (
    "create_subscription",
    "delete_subscription",
    "delivery_out",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "redeliver",
    "send_test_event",
    "subscription_out",
    "update_subscription",
)


def _event_types(types: Sequence[str] | None) -> list[str]:
    if not types:
        raise InvalidQuery(f"name at least one event type ({', '.join(EVENT_TYPES)}) or '*'", field="events")
    unknown = [t for t in types if t != "*" and t not in EVENT_TYPES]
    if unknown:
        raise InvalidQuery(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}", field="events")
    return list(dict.fromkeys(types))


def _secret(secret: str | None) -> str:
    if secret is None:
        return new_secret()
    from standardwebhooks import Webhook

    try:
        Webhook(secret)
    except Exception:
        raise InvalidQuery("a secret is whsec_ followed by base64 (24 to 64 random bytes)", field="secret") from None
    raw_length = len(secret.removeprefix("whsec_")) * 3 // 4
    if not secret.startswith("whsec_") or not 24 <= raw_length <= 66:
        raise InvalidQuery("a secret is whsec_ followed by base64 (24 to 64 random bytes)", field="secret")
    return secret


def create_subscription(
    session: Session,
    *,
    url: str,
    events: Sequence[str],
    description: str | None = None,
    secret: str | None = None,
    allow_networks: tuple[str, ...] = (),
) -> WebhookSubscription:
    """A new active subscription; its secret is made here unless given (``whsec_`` + base64)."""
    check_url(url, allow_networks)
    row = WebhookSubscription(
        url=url,
        event_types=_event_types(events),
        secret=_secret(secret),
        description=(description or "").strip()[:200] or None,
        active=True,
    )
    session.add(row)
    session.flush()
    return row


def get_subscription(session: Session, subscription_id: int, kind: str = "webhook") -> WebhookSubscription:
    """The subscription of ``kind`` with that id; raise :class:`WebhookNotFound` (a connector's queue is
    reached through its connector, not as a webhook)."""
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.kind != kind:
        raise WebhookNotFound(f"no webhook with id {subscription_id}", field="webhook_id")
    return row


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    """Every subscription, oldest first."""
    query = select(WebhookSubscription).where(WebhookSubscription.kind == "webhook")
    return list(session.scalars(query.order_by(WebhookSubscription.id)))


def update_subscription(
    session: Session,
    subscription_id: int,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
    allow_networks: tuple[str, ...] = (),
) -> WebhookSubscription:
    """Change a subscription; re-activating one clears why it was disabled (its pending deliveries resume)."""
    row = get_subscription(session, subscription_id)
    if url is not None:
        check_url(url, allow_networks)
        row.url = url
    if events is not None:
        row.event_types = _event_types(events)
    if description is not None:
        row.description = description.strip()[:200] or None
    if active is not None:
        row.active = active
        if active:
            row.disabled_reason = None
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_subscription(session: Session, subscription_id: int) -> None:
    """Remove a subscription with its deliveries."""
    row = get_subscription(session, subscription_id)
    session.query(WebhookDelivery).filter(WebhookDelivery.subscription_id == row.id).delete()
    session.delete(row)
    session.flush()


def list_deliveries(
    session: Session,
    subscription_id: int,
    *,
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
    kind: str = "webhook",
) -> tuple[list[tuple[WebhookDelivery, OutboxEvent]], int]:
    """A page of a subscription's deliveries with their events, newest first."""
    get_subscription(session, subscription_id, kind)
    if state is not None and state not in DELIVERY_STATES:
        raise InvalidQuery(f"state must be one of {', '.join(DELIVERY_STATES)}", field="state")
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if state:
        query = query.where(WebhookDelivery.state == state)
    rows, total = page(session, query, WebhookDelivery.id.desc(), limit=limit, offset=offset)
    wanted = select(OutboxEvent).where(OutboxEvent.id.in_([r.event_id for r in rows]))
    events = {e.id: e for e in session.scalars(wanted)}
    return [(row, events[row.event_id]) for row in rows], total


def redeliver(
    session: Session, subscription_id: int, delivery_id: int, kind: str = "webhook"
) -> tuple[WebhookDelivery, OutboxEvent]:
    """Send a delivery again now (same ``webhook-id``: receivers that saw it can tell), whatever its state;
    its attempts start over."""
    delivery = session.get(WebhookDelivery, delivery_id)
    owner = session.get(WebhookSubscription, subscription_id)
    if delivery is None or delivery.subscription_id != subscription_id or owner is None or owner.kind != kind:
        raise WebhookNotFound(f"webhook {subscription_id} has no delivery {delivery_id}", field="delivery_id")
    if delivery.state != "sending":
        delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, utcnow()
    session.info["outbox_events"] = True
    session.flush()
    return delivery, session.get(OutboxEvent, delivery.event_id)


def send_test_event(session: Session, subscription_id: int) -> OutboxEvent:
    """Queue a ``webhook.test`` event for this subscription only."""
    row = get_subscription(session, subscription_id)
    return emit_event(session, "webhook.test", {"webhook_id": row.id, "url": row.url}, only_subscription=row.id)


def subscription_out(row: WebhookSubscription, *, secret: bool = False) -> dict[str, Any]:
    """A subscription as the API and CLI show it (the secret only right after it is made)."""
    out: dict[str, Any] = {
        "id": row.id,
        "url": row.url,
        "events": list(row.event_types or []),
        "description": row.description,
        "active": row.active,
        "disabled_reason": row.disabled_reason,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }
    if secret:
        out["secret"] = row.secret
    return out


def delivery_out(row: WebhookDelivery, event: OutboxEvent) -> dict[str, Any]:
    """A delivery with its event's id (the ``webhook-id`` header) and type, and its attempts."""
    return {
        "id": row.id,
        "webhook_id": row.subscription_id,
        "event_id": event.event_id,
        "event_type": event.type,
        "subject": event.subject,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at if row.state == "pending" else None,
        "last_status": row.last_status,
        "last_error": row.last_error,
        "log": list(row.log or []),
        "created_at": row.created_at,
        "delivered_at": row.delivered_at,
    }
