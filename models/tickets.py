"""Tickets and the suggestions stored for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("LABEL_FIELDS", "TICKET_STATUSES", "Suggestion", "Ticket")

TICKET_STATUSES = ("new", "open", "pending", "resolved", "closed")
LABEL_FIELDS = ("category", "priority", "assignee")  # the labels a ticket has and triage predicts


class Ticket(Base):
    """A helpdesk ticket; resolved tickets with labels are the training history."""

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(1000), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    requester: Mapped[str | None] = mapped_column(String(320), index=True)
    channel: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    category: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[str | None] = mapped_column(String(50))
    assignee: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(Text)
    helped_articles: Mapped[list[str]] = mapped_column(JSONType, default=list, server_default=text("'[]'"))
    # the labels of fields a deployment adds beyond category, priority and assignee (see models.fields)
    labels: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict, server_default=text("'{}'"))
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    erased_at: Mapped[datetime | None] = mapped_column()  # the requester's personal data was erased
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    requester_notified_at: Mapped[datetime | None] = mapped_column()  # told of the merge (by the helpdesk's mailer)


class Suggestion(Base):
    """What the model suggested for a ticket, with the bundle version that produced it."""

    __tablename__ = "suggestions"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    bundle_version: Mapped[str | None] = mapped_column(String(100))
    articles: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    similar_tickets: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    predictions: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
