"""What the portal's customers did with its suggestions, as the "nothing fits" model learns from it: the
drafts whose outcome is known, and a stamp that changes whenever a portal event is recorded."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import PortalEvent, PortalSuggestion

__all__ = ("OUTCOME_EVENTS", "decided_drafts", "outcomes_stamp")

OUTCOME_EVENTS = ("helpful", "not_helpful", "ticket_filed")  # these say whether what was shown helped


def outcomes_stamp(session: Session) -> tuple[int, int | None]:
    """Changes whenever a portal event is recorded (count, newest id)."""
    count, newest = session.execute(select(func.count(PortalEvent.id), func.max(PortalEvent.id))).one()
    return (int(count), newest)


def decided_drafts(session: Session, *, limit: int) -> list[tuple[str, str, str | None]]:
    """The newest ``limit`` drafts that were shown articles and whose outcome is known, as (subject, body,
    the article that helped or ``None``), oldest first.

    As in the deflection report, an article marked helpful helped unless a ticket was filed anyway; a
    ``not_helpful`` or ``ticket_filed`` event otherwise means nothing shown helped. Drafts with no such
    event (the customer just left) say nothing and are left out, and so are drafts shown nothing: what
    would have helped them is unknown.
    """
    decided = (
        select(PortalEvent.suggestion_id)
        .where(PortalEvent.type.in_(OUTCOME_EVENTS))
        .group_by(PortalEvent.suggestion_id)
        .subquery()
    )
    suggestions = list(
        session.scalars(
            select(PortalSuggestion)
            .join(decided, decided.c.suggestion_id == PortalSuggestion.id)
            .where(PortalSuggestion.nothing_fits.is_(False))
            .order_by(PortalSuggestion.created_at.desc(), PortalSuggestion.id)
            .limit(limit)
        )
    )
    events: dict[str, list[PortalEvent]] = defaultdict(list)
    if suggestions:
        query = select(PortalEvent).where(PortalEvent.suggestion_id.in_([s.id for s in suggestions]))
        for event in session.scalars(query.order_by(PortalEvent.id)):
            events[event.suggestion_id].append(event)
    outcomes = []
    for suggestion in reversed(suggestions):
        kinds = [e.type for e in events[suggestion.id]]
        helpful = [e.article_slug for e in events[suggestion.id] if e.type == "helpful"]
        helped = helpful[0] if helpful and "ticket_filed" not in kinds else None
        outcomes.append((suggestion.subject, suggestion.body, helped))
    return outcomes
