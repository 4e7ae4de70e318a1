"""Helpdesk connectors: how to reach each helpdesk a deployment plugs into (its credentials and webhook
secret are never returned or logged), how its labels map to ours, what we may write back, where its
backfill got to, and one row per webhook delivery it sent us (its id is unique: a replay stores nothing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("ConnectorInbound", "HelpdeskConnector")


class HelpdeskConnector(Base):
    """One connected helpdesk. ``subscription_id`` is the internal outbox subscription its work (intake of
    its webhooks, write-backs) is queued and retried on, with the same leases and log as webhooks."""

    __tablename__ = "connectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    base_url: Mapped[str] = mapped_column(String(2000))
    credentials: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # secret
    webhook_secret: Mapped[str] = mapped_column(String(200))  # secret
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    mapping: Mapped[dict[str, dict[str, str]]] = mapped_column(JSONType, default=dict)  # field -> theirs -> ours
    write_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)  # set when confident and unset
    untriaged: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)  # their "nobody chose" values
    note: Mapped[bool] = mapped_column(Boolean, default=True)  # write the internal note
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="SET NULL"), index=True
    )
    backfill_cursor: Mapped[str | None] = mapped_column(Text)
    backfill_state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # counts, finished, at
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConnectorInbound(Base):
    """One webhook delivery a helpdesk sent, verified; what became of it is filled in when it is processed."""

    __tablename__ = "connector_inbound"
    __table_args__ = (UniqueConstraint("connector_id", "delivery_id", name="uq_connector_inbound_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    remote_id: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str | None] = mapped_column(String(40))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
