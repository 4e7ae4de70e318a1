"""The ticket events other systems hear about (through the outbox and webhooks): each written in the same
transaction as the change it reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import Suggestion, Ticket
from models.outbox import OutboxEvent, emit_event
from models.tickets import LABEL_FIELDS

__all__ = ("emit_ticket_event", "suggestion_summary", "ticket_summary")


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    """What every ticket event says of the ticket (times as RFC 3339 strings)."""
    return {
        "id": ticket.id,
        "external_id": ticket.external_id,
        "subject": ticket.subject,
        "body": ticket.body,
        "requester": ticket.requester,
        "channel": ticket.channel,
        "language": ticket.language,
        "status": ticket.status,
        **{name: getattr(ticket, name) for name in LABEL_FIELDS},
        "labels": dict(ticket.labels or {}),  # the fields a deployment added
        "resolution": ticket.resolution,
        "helped_articles": list(ticket.helped_articles or []),
        "created_at": ticket.created_at.isoformat() if ticket.created_at else None,
        "resolved_at": ticket.resolved_at.isoformat() if ticket.resolved_at else None,
    }


def suggestion_summary(row: Suggestion | None) -> dict[str, Any] | None:
    """The predictions (with confidence and prediction sets) and the suggested articles (with their
    public help page, ``help_path``) stored for a ticket."""
    if row is None:
        return None
    return {
        "id": row.id,
        "bundle_version": row.bundle_version,
        "predictions": row.predictions,
        "articles": [{**a, "help_path": f"/help/{a['slug']}"} for a in row.articles],
        "similar_tickets": [{"id": t["id"], "similarity": t["similarity"]} for t in row.similar_tickets],
    }


def emit_ticket_event(session: Session, event_type: str, ticket: Ticket, **extra: Any) -> OutboxEvent:
    """Write ``ticket.created``, ``ticket.updated`` or ``ticket.resolved`` for ``ticket``; events of one
    ticket reach each endpoint in order."""
    session.flush()
    return emit_event(session, event_type, {"ticket": ticket_summary(ticket), **extra}, subject=f"ticket:{ticket.id}")
