"""The ticket lifecycle after intake: agents set or override labels, change status, and resolve.

Every label an agent sets is recorded as :class:`models.Feedback` on the ticket's latest suggestion:
accepted when it equals the predicted label, overridden otherwise (with what, by whom, when). Resolved
tickets with their final labels are the next training set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Article, Feedback, Ticket, TicketMessage
from models.base import as_utc, utcnow
from models.fields import active_fields, field_names, label_of, set_label
from models.tickets import LABEL_FIELDS
from triage.desk.events import emit_ticket_event
from triage.desk.tickets import check_label, get_ticket, latest_suggestion
from triage.errors import InvalidQuery, InvalidTransition
from triage.sla.store import record_first_response, retarget, ticket_status_changed

__all__ = ("OPEN_STATUSES", "TRANSITIONS", "record_response", "resolve_ticket", "ticket_feedback", "update_ticket")

# Where a status may go with PATCH; "resolved" is reached only through resolve_ticket, which needs
# the resolution. A resolved ticket may be reopened or closed; a closed one is final.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "pending", "closed"),
    "open": ("pending", "closed"),
    "pending": ("open", "closed"),
    "resolved": ("open", "closed"),
    "closed": (),
}
OPEN_STATUSES = ("new", "open", "pending")
CLOCK_SKEW = timedelta(minutes=5)  # a response time this far ahead of ours is still taken as now-ish


def _check_labels(session: Session, labels: Mapping[str, str | None]) -> dict[str, str]:
    """The labels given, whitespace-normalised, each for a field in force and (for a field with a fixed
    label set) one of its labels; 422 naming the field otherwise."""
    specs = {spec.name: spec for spec in active_fields(session)}
    clean = {}
    for name, value in labels.items():
        where = name if name in LABEL_FIELDS else f"labels.{name}"
        if value is None:
            continue
        if name not in specs:
            raise InvalidQuery(f"unknown field {name!r}; the fields are {', '.join(specs)}", field=where)
        clean[name] = check_label(specs[name], value, where)
    return clean


def _record_feedback(
    session: Session,
    ticket: Ticket,
    labels: Mapping[str, str],
    source: str,
    actor: str | None,
    on_behalf_of: str | None = None,
) -> None:
    """Set the labels and record each one that changes as feedback on the latest suggestion, by ``actor``
    (who is authenticated) on behalf of ``on_behalf_of`` (the person a request names, unverified)."""
    suggestion = latest_suggestion(session, ticket.id)
    predictions = suggestion.predictions if suggestion else {}
    for name, value in labels.items():
        if label_of(ticket, name) == value and source == "update":
            continue  # setting what is already there is no decision
        prediction = predictions.get(name) or {}
        predicted = prediction.get("label")
        session.add(
            Feedback(
                ticket_id=ticket.id,
                suggestion_id=suggestion.id if suggestion else None,
                bundle_version=suggestion.bundle_version if suggestion else None,
                field=name,
                predicted=predicted,
                prediction_status=prediction.get("status"),
                value=value,
                action="accepted" if predicted == value else "overridden",
                source=source,
                actor=actor,
                on_behalf_of=on_behalf_of,
            )
        )
        set_label(ticket, name, value)


def update_ticket(
    session: Session,
    ticket_id: int,
    *,
    labels: Mapping[str, str | None],
    status: str | None = None,
    actor: str | None = None,
    on_behalf_of: str | None = None,
) -> Ticket:
    """Set or override labels and/or move the status (409 for a move :data:`TRANSITIONS` forbids).

    A closed ticket takes no changes; labels of a resolved ticket can still be corrected (they are the
    training data), and each correction is recorded.
    """
    ticket = get_ticket(session, ticket_id)
    clean = _check_labels(session, labels)
    if not clean and status is None:
        raise InvalidQuery("give at least one label (category, priority, assignee, labels) or a status", field="body")
    if ticket.status == "closed":
        raise InvalidTransition(f"ticket {ticket_id} is closed", field="status")
    before = ticket.status
    if status is not None and status != ticket.status:
        if status not in TRANSITIONS:
            raise InvalidQuery(f"status must be one of {', '.join(TRANSITIONS)}", field="status")
        if status not in TRANSITIONS[ticket.status]:
            hint = "; resolve it with POST /v1/tickets/{id}/resolve" if status == "resolved" else ""
            raise InvalidTransition(f"a {ticket.status} ticket cannot become {status}{hint}", field="status")
        if ticket.status == "resolved":
            ticket.resolved_at = None  # reopened
        ticket.status = status
    changed = {name: value for name, value in clean.items() if label_of(ticket, name) != value}
    moved = status is not None and status != before
    _record_feedback(session, ticket, clean, "update", actor, on_behalf_of)
    ticket.updated_at = utcnow()
    if "priority" in clean or "category" in changed:
        retarget(session, ticket, priority_set="priority" in clean)
    ticket_status_changed(session, ticket, before)
    if changed or moved:
        emit_ticket_event(
            session, "ticket.updated", ticket, changes={**changed, **({"status": status} if moved else {})}
        )
    session.flush()
    return ticket


def resolve_ticket(
    session: Session,
    ticket_id: int,
    *,
    resolution: str,
    labels: Mapping[str, str | None],
    helped_articles: Sequence[str] = (),
    actor: str | None = None,
    on_behalf_of: str | None = None,
) -> Ticket:
    """Resolve an open ticket with its resolution text, final labels and the articles that helped.

    Each final label is recorded as feedback (accepted or overridden). The articles must exist.
    """
    ticket = get_ticket(session, ticket_id)
    if ticket.status not in OPEN_STATUSES:
        raise InvalidTransition(f"a {ticket.status} ticket cannot be resolved", field="status")
    resolution = (resolution or "").strip()
    if not resolution:
        raise InvalidQuery("a resolution says what was done", field="resolution")
    clean = _check_labels(session, labels)
    slugs = list(dict.fromkeys(helped_articles))
    known = set(session.scalars(select(Article.slug).where(Article.slug.in_(slugs)))) if slugs else set()
    unknown = [s for s in slugs if s not in known]
    if unknown:
        raise InvalidQuery(f"no article {unknown[0]!r}", field="helped_articles")
    final = {name: clean.get(name) or label_of(ticket, name) for name in field_names(session)}
    _record_feedback(session, ticket, {k: v for k, v in final.items() if v}, "resolve", actor, on_behalf_of)
    ticket.resolution = resolution
    ticket.helped_articles = slugs
    before, ticket.status = ticket.status, "resolved"
    ticket.resolved_at = ticket.updated_at = utcnow()
    if "priority" in clean or "category" in clean:
        retarget(session, ticket, priority_set="priority" in clean)
    ticket_status_changed(session, ticket, before, ticket.resolved_at)
    emit_ticket_event(session, "ticket.resolved", ticket)
    return ticket


def ticket_feedback(session: Session, ticket_id: int) -> list[Feedback]:
    """The feedback recorded on a ticket, oldest first (404 for an unknown ticket)."""
    get_ticket(session, ticket_id)
    return list(session.scalars(select(Feedback).where(Feedback.ticket_id == ticket_id).order_by(Feedback.id)))


def record_response(
    session: Session,
    ticket_id: int,
    *,
    at: datetime | None = None,
    author: str | None = None,
    body: str | None = None,
    channel: str = "api",
) -> TicketMessage:
    """An agent answered the requester (in the helpdesk, by phone or by mail) at ``at`` (now when None):
    stored on the thread as an outgoing reply; the first one stops the ticket's first-response clock."""
    ticket = get_ticket(session, ticket_id)
    now = utcnow()
    at = as_utc(at) if at else now
    if at > now + CLOCK_SKEW:
        raise InvalidQuery("a response cannot be in the future", field="at")
    if at < as_utc(ticket.created_at):
        raise InvalidQuery("a response cannot come before the ticket was created", field="at")
    message = TicketMessage(
        ticket_id=ticket.id,
        channel=channel,
        direction="out",
        kind="reply",
        author=author,
        subject=f"Re: {ticket.subject}"[:1000],
        body=body or "",
        original=body or "",
        created_at=at,
    )
    session.add(message)
    record_first_response(session, ticket, at)
    session.flush()
    return message
