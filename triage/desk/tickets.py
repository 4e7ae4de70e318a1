"""Ticket intake and lookup, and storing the suggestions made for a ticket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Suggestion, Ticket, TicketMessage
from models.audit import Actor, record_audit
from models.db import page
from models.fields import FieldSpec, active_fields
from models.hashing import content_hash
from triage.desk.events import emit_ticket_event, suggestion_summary
from triage.desk.suggest import Suggestions
from triage.errors import InvalidQuery, TicketExists, TicketNotFound
from triage.sla.store import start_clock
from triage.text.language import detect_language

__all__ = (
    "audit_prediction",
    "check_label",
    "create_ticket",
    "get_ticket",
    "intake_ticket",
    "latest_suggestion",
    "list_tickets",
    "prediction_detail",
    "ticket_messages",
    "save_suggestion",
)


MAX_LABEL = 200
MAX_PRIORITY = 50  # the priority column is shorter


def check_label(spec: FieldSpec, value: str, where: str) -> str:
    """``value`` whitespace-normalised as a label of field ``spec``: not empty, not too long, and one of its
    fixed labels when it has a fixed set; 422 naming ``where`` otherwise."""
    value = " ".join(str(value).split())
    if not value:
        raise InvalidQuery(f"{spec.name} must not be empty", field=where)
    limit = MAX_PRIORITY if spec.name == "priority" else MAX_LABEL
    if len(value) > limit:
        raise InvalidQuery(f"{spec.name} is longer than {limit} characters", field=where)
    if spec.labels is not None and value not in spec.labels:
        raise InvalidQuery(f"{spec.name} must be one of {', '.join(spec.labels)}", field=where)
    return value


def create_ticket(
    session: Session,
    *,
    subject: str | None,
    body: str | None,
    requester: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    external_id: str | None = None,
    priority: str | None = None,
) -> Ticket:
    """Store a new ticket (status ``new``); its language is detected when not given; ``priority`` is the
    one its requester or helpdesk set, if any. Raise :class:`InvalidQuery` when it has no text."""
    subject, body = (subject or "").strip(), (body or "").strip()
    if not subject and not body:
        raise InvalidQuery("a ticket needs a subject or a body", field="subject")
    priority = " ".join((priority or "").split()) or None
    spec = next((spec for spec in active_fields(session) if spec.name == "priority"), None)
    if priority and spec is not None:
        priority = check_label(spec, priority, "priority")
    taken = TicketExists(f"a ticket with external_id {external_id!r} already exists", field="external_id")
    if external_id is not None and session.scalar(select(Ticket.id).where(Ticket.external_id == external_id)):
        raise taken
    ticket = Ticket(
        subject=subject,
        body=body,
        requester=requester,
        channel=channel,
        language=language or detect_language(f"{subject}\n{body}"),
        external_id=external_id,
        priority=priority,
        status="new",
        content_hash=content_hash(subject, body),
    )
    try:
        with session.begin_nested():  # another request may store the same external_id in between
            session.add(ticket)
    except IntegrityError:
        raise taken from None
    return ticket


def list_tickets(
    session: Session, *, statuses: tuple[str, ...] = (), limit: int = 50, offset: int = 0
) -> tuple[list[Ticket], int]:
    """A page of tickets, newest first (only ``statuses`` when given), and how many there are in all."""
    query = select(Ticket)
    if statuses:
        query = query.where(Ticket.status.in_(statuses))
    return page(session, query, Ticket.created_at.desc(), Ticket.id.desc(), limit=limit, offset=offset)


def get_ticket(session: Session, ticket_id: int) -> Ticket:
    """The ticket with ``ticket_id``; raise :class:`TicketNotFound`."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketNotFound(f"no ticket with id {ticket_id}", field="ticket_id")
    return ticket


def save_suggestion(session: Session, ticket_id: int | None, result: Suggestions) -> Suggestion:
    """Store what was suggested, with the bundle version, for feedback and audit."""
    row = Suggestion(
        ticket_id=ticket_id,
        bundle_version=result.bundle_version,
        articles=[asdict(a) for a in result.articles],
        similar_tickets=[asdict(t) for t in result.similar_tickets],
        predictions={name: asdict(p) for name, p in result.predictions.items()},
    )
    session.add(row)
    session.flush()
    return row


def latest_suggestion(session: Session, ticket_id: int) -> Suggestion | None:
    """The newest stored suggestion for a ticket."""
    return session.scalar(
        select(Suggestion).where(Suggestion.ticket_id == ticket_id).order_by(Suggestion.id.desc()).limit(1)
    )


def prediction_detail(result: Suggestions) -> dict[str, Any]:
    """What the audit trail keeps of served predictions: the bundle version and each field's label."""
    labels = {name: p.label if p.status == "ok" else p.status for name, p in result.predictions.items()}
    return {"bundle_version": result.bundle_version, "labels": labels}


def audit_prediction(session: Session, actor: Actor, result: Suggestions, ticket_id: int | None = None) -> None:
    """Record in the audit trail that predictions were served (:func:`prediction_detail`)."""
    target = f"ticket:{ticket_id}" if ticket_id else None
    record_audit(session, actor, "prediction.served", target, **prediction_detail(result))


def intake_ticket(
    session: Session,
    suggest: Callable[[str, str], Suggestions],
    actor: Actor,
    *,
    subject: str | None,
    body: str | None,
    requester: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    external_id: str | None = None,
    priority: str | None = None,
) -> tuple[Ticket, Suggestion]:
    """A new ticket with its suggestions (``suggest(subject, body)``), the prediction audited under
    ``actor``, its SLA clock started (from ``priority``, else the predicted one) and ``ticket.created``
    (with the predictions and articles) in the outbox, all in ``session``'s transaction."""
    ticket = create_ticket(
        session,
        subject=subject,
        body=body,
        requester=requester,
        channel=channel,
        language=language,
        external_id=external_id,
        priority=priority,
    )
    result = suggest(ticket.subject, ticket.body)
    row = save_suggestion(session, ticket.id, result)
    audit_prediction(session, actor, result, ticket_id=ticket.id)
    start_clock(session, ticket, neighbours=result.neighbours)
    emit_ticket_event(session, "ticket.created", ticket, suggestion=suggestion_summary(row))
    return ticket, row


def ticket_messages(session: Session, ticket_id: int) -> list[TicketMessage]:
    """The messages on a ticket's thread (mail in, acknowledgements out), oldest first; 404 for no ticket."""
    get_ticket(session, ticket_id)
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id)
    return list(session.scalars(query))
