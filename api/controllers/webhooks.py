"""Outbound webhooks (admin): subscriptions, their delivery log, redelivery and a test event."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, QueryParameter

from api.auth import actor_of, roles
from api.schemas import LIMIT, OFFSET, ROW_ID
from models.audit import record_audit
from models.db import session_scope
from models.outbox import DELIVERY_STATES
from triage.channels.webhooks.subscriptions import (
    create_subscription,
    delete_subscription,
    delivery_out,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    redeliver,
    send_test_event,
    subscription_out,
    update_subscription,
)

__all__ = ("WebhookController",)

EventType = Annotated[str, msgspec.Meta(max_length=60)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True):
    """A subscription: where to send, which event types (or ``*``), and optionally the signing secret
    (``whsec_`` + base64; made for you when left out)."""

    url: Url
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)]
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    secret: Annotated[str, msgspec.Meta(max_length=100)] | None = None


class WebhookPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What to change; ``active: true`` resumes a subscription that was paused or disabled."""

    url: Url | None = None
    events: Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)] | None = None
    description: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    active: bool | None = None


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    opt = roles()

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[WebhookIn], request: Request, state: State) -> dict[str, Any]:
        """Subscribe a URL to event types (201). The secret is in this response only."""
        allow = state.serving.settings.webhooks.allow_networks
        with session_scope(state.serving.sessions) as session:
            row = create_subscription(
                session,
                url=data.url,
                events=data.events,
                description=data.description,
                secret=data.secret,
                allow_networks=allow,
            )
            record_audit(session, actor_of(request), "webhook.created", f"webhook:{row.id}", events=row.event_types)
            return subscription_out(row, secret=True)

    @get("/", sync_to_thread=True)
    def index(self, state: State) -> list[dict[str, Any]]:
        """Every subscription, without secrets."""
        with session_scope(state.serving.sessions) as session:
            return [subscription_out(row) for row in list_subscriptions(session)]

    @get("/{webhook_id:int}", sync_to_thread=True)
    def read(self, state: State, webhook_id: int = ROW_ID) -> dict[str, Any]:
        """One subscription, without its secret."""
        with session_scope(state.serving.sessions) as session:
            return subscription_out(get_subscription(session, webhook_id))

    @patch("/{webhook_id:int}", sync_to_thread=True)
    def update(
        self, data: JSONBody[WebhookPatch], request: Request, state: State, webhook_id: int = ROW_ID
    ) -> dict[str, Any]:
        """Change the URL, event types, description, or pause (``active: false``) and resume it."""
        allow = state.serving.settings.webhooks.allow_networks
        with session_scope(state.serving.sessions) as session:
            row = update_subscription(
                session,
                webhook_id,
                url=data.url,
                events=data.events,
                description=data.description,
                active=data.active,
                allow_networks=allow,
            )
            record_audit(session, actor_of(request), "webhook.updated", f"webhook:{row.id}", active=row.active)
            return subscription_out(row)

    @delete("/{webhook_id:int}", status_code=204, sync_to_thread=True)
    def remove(self, request: Request, state: State, webhook_id: int = ROW_ID) -> None:
        """Remove a subscription and its delivery log."""
        with session_scope(state.serving.sessions) as session:
            delete_subscription(session, webhook_id)
            record_audit(session, actor_of(request), "webhook.deleted", f"webhook:{webhook_id}")

    @post("/{webhook_id:int}/test", status_code=202, sync_to_thread=True)
    def test(self, state: State, webhook_id: int = ROW_ID) -> dict[str, Any]:
        """Send a ``webhook.test`` event to this subscription (202: it is queued; see its deliveries)."""
        with session_scope(state.serving.sessions) as session:
            event = send_test_event(session, webhook_id)
            return {"event_id": event.event_id, "type": event.type}

    @get("/{webhook_id:int}/deliveries", sync_to_thread=True)
    def deliveries(
        self,
        state: State,
        webhook_id: int = ROW_ID,
        delivery_state: Annotated[
            str | None, QueryParameter(name="state", pattern="^(" + "|".join(DELIVERY_STATES) + ")$")
        ] = None,
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> dict[str, Any]:
        """The delivery log, newest first: each event's id (the ``webhook-id`` header), state, attempts and
        their answers."""
        with session_scope(state.serving.sessions) as session:
            rows, total = list_deliveries(session, webhook_id, state=delivery_state, limit=limit, offset=offset)
            items = [delivery_out(row, event) for row, event in rows]
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @post("/{webhook_id:int}/deliveries/{delivery_id:int}/redeliver", status_code=202, sync_to_thread=True)
    def redeliver(
        self, request: Request, state: State, webhook_id: int = ROW_ID, delivery_id: int = ROW_ID
    ) -> dict[str, Any]:
        """Send a delivery again (same ``webhook-id``), whether it was delivered or gave up."""
        with session_scope(state.serving.sessions) as session:
            row, event = redeliver(session, webhook_id, delivery_id)
            record_audit(session, actor_of(request), "webhook.redelivered", f"webhook:{webhook_id}", delivery=row.id)
            return delivery_out(row, event)
