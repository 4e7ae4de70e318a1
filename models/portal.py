"""What the self-service portal showed and what the customer did with it (deflection)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("EVENT_TYPES", "PortalEvent", "PortalSuggestion")

EVENT_TYPES = ("shown", "opened", "helpful", "not_helpful", "ticket_filed")


class PortalSuggestion(Base):
    """One answer to a portal draft: the articles (slug, revision, rank, similarity) shown, or nothing."""

    __tablename__ = "portal_suggestions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random, so ids cannot be guessed
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    nothing_fits: Mapped[bool] = mapped_column(default=False)
    articles: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PortalEvent(Base):
    """A customer's action on a suggestion; ``article_slug``/``article_revision`` name the article involved.
    One event of each type per suggestion and article: a replay is not counted again (the portal key is
    public)."""

    __tablename__ = "portal_events"
    __table_args__ = (
        Index(
            "uq_portal_events_once_per_article",
            "suggestion_id",
            "type",
            "article_slug",
            unique=True,
            sqlite_where=text("article_slug IS NOT NULL"),
            postgresql_where=text("article_slug IS NOT NULL"),
        ),
        Index(
            "uq_portal_events_once",
            "suggestion_id",
            "type",
            unique=True,
            sqlite_where=text("article_slug IS NULL"),
            postgresql_where=text("article_slug IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("portal_suggestions.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    article_slug: Mapped[str | None] = mapped_column(String(200))
    article_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
