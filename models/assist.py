"""Agent assist: saved replies (macros), what agents did with recommended replies, incident events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("ASSIST_ACTIONS", "AssistFeedback", "IncidentEvent", "Macro")

ASSIST_ACTIONS = ("used", "edited", "dismissed")


class Macro(Base):
    """A saved reply: Markdown with placeholders such as ``{{requester.first_name}}``."""

    __tablename__ = "macros"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    usage_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AssistFeedback(Base):
    """What an agent did with a recommended reply or a macro on a ticket: used it, edited it, dismissed it."""

    __tablename__ = "assist_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "reply" or "macro"
    reply_id: Mapped[str | None] = mapped_column(String(64))  # a recommended reply's id
    macro_id: Mapped[int | None] = mapped_column(ForeignKey("macros.id", ondelete="SET NULL"))
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str | None] = mapped_column(String(200))  # the API key's name: who is authenticated
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))  # the person the request body names
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class IncidentEvent(Base):
    """A group of similar tickets crossed the spike threshold: more of them, faster, than usual."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    representative_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(1000))  # redacted
    size: Mapped[int] = mapped_column()
    rate_per_hour: Mapped[float] = mapped_column()
    baseline_per_hour: Mapped[float] = mapped_column()
    member_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
