"""What agents did with the model's predictions: accepted or overridden, by whom, when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

__all__ = ("FEEDBACK_ACTIONS", "Feedback")

FEEDBACK_ACTIONS = ("accepted", "overridden")


class Feedback(Base):
    """One agent decision on one field of a ticket, tied to the suggestion (and bundle) it answers.

    ``predicted`` is the label the suggestion gave (``None`` when it abstained or had no model);
    ``value`` is what the agent set. ``action`` is ``accepted`` when they agree, else ``overridden``.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    suggestion_id: Mapped[int | None] = mapped_column(ForeignKey("suggestions.id", ondelete="SET NULL"))
    bundle_version: Mapped[str | None] = mapped_column(String(100))
    field: Mapped[str] = mapped_column(String(20))
    predicted: Mapped[str | None] = mapped_column(String(200))
    prediction_status: Mapped[str | None] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # "update" (PATCH) or "resolve"
    actor: Mapped[str | None] = mapped_column(String(200))  # the API key's name: who is authenticated
    on_behalf_of: Mapped[str | None] = mapped_column(String(200))  # the person the request body names
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
