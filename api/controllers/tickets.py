"""Tickets: intake with suggestions, reading, agents' changes (feedback) and resolving."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter
from sqlalchemy.orm import Session

from api.auth import actor_of, roles
from api.schemas import LIMIT, OFFSET, ROW_ID, ResponseIn, TicketIn, TicketOut, TicketPage, TicketPatch, TicketResolve
from models import Feedback, Suggestion, Ticket
from models.audit import record_audit
from models.db import session_scope
from models.fields import field_names, labels_of
from models.tickets import LABEL_FIELDS, TICKET_STATUSES
from triage.desk.lifecycle import OPEN_STATUSES, record_response, resolve_ticket, ticket_feedback, update_ticket
from triage.desk.tickets import get_ticket, intake_ticket, latest_suggestion, list_tickets, ticket_messages
from triage.sla.watch import sla_badges, ticket_sla

__all__ = ("TicketController",)


def _suggestion_out(row: Suggestion | None) -> dict | None:
    if row is None:
        return None
    return {
        "id": row.id,
        "bundle_version": row.bundle_version,
        "articles": row.articles,
        "similar_tickets": row.similar_tickets,
        "predictions": row.predictions,
        "created_at": row.created_at,
    }


def _ticket_out(ticket: Ticket, suggestion: Suggestion | None, session: Session) -> TicketOut:
    return TicketOut(
        id=ticket.id,
        external_id=ticket.external_id,
        subject=ticket.subject,
        body=ticket.body,
        requester=ticket.requester,
        channel=ticket.channel,
        language=ticket.language,
        status=ticket.status,
        category=ticket.category,
        priority=ticket.priority,
        assignee=ticket.assignee,
        resolution=ticket.resolution,
        helped_articles=list(ticket.helped_articles or []),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        suggestion=_suggestion_out(suggestion),
        merged_into_id=ticket.merged_into_id,
        requester_notified_at=ticket.requester_notified_at,
        sla=ticket_sla(session, ticket),
        labels=labels_of(ticket, field_names(session)),
    )


class TicketController(Controller):
    path = "/v1/tickets"
    tags = ["tickets"]
    opt = roles("agent")

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[TicketIn], request: Request, state: State) -> TicketOut:
        """Store a ticket and the suggestions made for it (201). Intake works even with no model."""
        serving = state.serving
        top_k = serving.settings.api.default_top_k
        with session_scope(serving.sessions) as session:
            ticket, row = intake_ticket(
                session,
                lambda subject, body: serving.suggest(subject, body, top_k),
                actor_of(request),
                subject=data.subject,
                body=data.body,
                requester=data.requester,
                channel=data.channel,
                language=data.language,
                external_id=data.external_id,
                priority=data.priority,
            )
            return _ticket_out(ticket, row, session)

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        status: str | None = Parameter(
            default=None,
            required=False,
            pattern="^(open|" + "|".join(TICKET_STATUSES) + ")$",
            description="Only tickets in this status; ``open`` means new, open or pending.",
        ),
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> TicketPage:
        """A page of tickets, newest first, without bodies."""
        statuses = OPEN_STATUSES if status == "open" else ((status,) if status else ())
        with session_scope(state.serving.sessions) as session:
            rows, total = list_tickets(session, statuses=statuses, limit=limit, offset=offset)
            badges = sla_badges(session, rows)
            items = [
                {
                    "id": t.id,
                    "external_id": t.external_id,
                    "subject": t.subject,
                    "status": t.status,
                    "category": t.category,
                    "priority": t.priority,
                    "assignee": t.assignee,
                    "created_at": t.created_at,
                    "sla": badges.get(t.id),
                }
                for t in rows
            ]
            return TicketPage(items=items, total=total, limit=limit, offset=offset)

    @get("/{ticket_id:int}", sync_to_thread=True)
    def read(self, state: State, ticket_id: int = ROW_ID) -> TicketOut:
        """A ticket and its latest suggestion."""
        with session_scope(state.serving.sessions) as session:
            ticket = get_ticket(session, ticket_id)
            return _ticket_out(ticket, latest_suggestion(session, ticket.id), session)

    @patch("/{ticket_id:int}", sync_to_thread=True)
    def update(self, data: JSONBody[TicketPatch], request: Request, state: State, ticket_id: int = ROW_ID) -> TicketOut:
        """Set or override labels (each recorded as feedback on the suggestion) and/or move the status;
        409 for a move the lifecycle forbids. The feedback names the key that made the change as
        ``actor``; the body's ``actor`` (the person, when one key serves many, as in an integration) is
        kept beside it as ``on_behalf_of``."""
        caller = actor_of(request)
        labels = _labels(data)
        with session_scope(state.serving.sessions) as session:
            ticket = update_ticket(
                session, ticket_id, labels=labels, status=data.status, actor=caller.name, on_behalf_of=data.actor
            )
            changed = {k: v for k, v in labels.items() if v is not None}
            record_audit(
                session,
                caller,
                "ticket.updated",
                f"ticket:{ticket_id}",
                labels=changed,
                status=data.status,
                on_behalf_of=data.actor,
            )
            return _ticket_out(ticket, latest_suggestion(session, ticket.id), session)

    @post("/{ticket_id:int}/resolve", status_code=200, sync_to_thread=True)
    def resolve(
        self, data: JSONBody[TicketResolve], request: Request, state: State, ticket_id: int = ROW_ID
    ) -> TicketOut:
        """Resolve with the resolution, final labels and the articles that helped (409 unless open)."""
        caller = actor_of(request)
        with session_scope(state.serving.sessions) as session:
            ticket = resolve_ticket(
                session,
                ticket_id,
                resolution=data.resolution,
                labels=_labels(data),
                helped_articles=data.helped_articles,
                actor=caller.name,
                on_behalf_of=data.actor,
            )
            final = labels_of(ticket, field_names(session))
            record_audit(
                session, caller, "ticket.resolved", f"ticket:{ticket_id}", labels=final, on_behalf_of=data.actor
            )
            return _ticket_out(ticket, latest_suggestion(session, ticket.id), session)

    @post("/{ticket_id:int}/responses", status_code=201, sync_to_thread=True)
    def respond(self, data: JSONBody[ResponseIn], state: State, ticket_id: int = ROW_ID) -> dict[str, Any]:
        """Record that an agent answered the requester (the helpdesk's reply, a call): it joins the thread,
        and the first one stops the first-response clock. 422 naming ``at`` for a time in the future or
        before the ticket."""
        with session_scope(state.serving.sessions) as session:
            message = record_response(session, ticket_id, at=data.at, author=data.author, body=data.body)
            ticket = get_ticket(session, ticket_id)
            return {"message_id": message.id, "at": message.created_at, "sla": ticket_sla(session, ticket)}

    @get("/{ticket_id:int}/messages", sync_to_thread=True)
    def messages(self, state: State, ticket_id: int = ROW_ID) -> list[dict]:
        """The ticket's thread, oldest first: each mail as encoded (quotes and signature stripped) and as
        received (``original``), attachments by name, type and size, and acknowledgements sent."""
        with session_scope(state.serving.sessions) as session:
            return [
                {
                    "id": m.id,
                    "direction": m.direction,
                    "kind": m.kind,
                    "channel": m.channel,
                    "author": m.author,
                    "subject": m.subject,
                    "body": m.body,
                    "original": m.original,
                    "message_id": m.message_id,
                    "attachments": m.attachments,
                    "created_at": m.created_at,
                }
                for m in ticket_messages(session, ticket_id)
            ]

    @get("/{ticket_id:int}/feedback", sync_to_thread=True)
    def feedback(self, state: State, ticket_id: int = ROW_ID) -> list[dict]:
        """Every decision agents made on this ticket's predictions, oldest first."""
        with session_scope(state.serving.sessions) as session:
            return [_feedback_out(row) for row in ticket_feedback(session, ticket_id)]


def _labels(data: TicketPatch | TicketResolve) -> dict[str, str | None]:
    """The built-in fields' labels and those of ``labels`` (a built-in field given both ways: the top-level one)."""
    return {**(data.labels or {}), **{name: getattr(data, name) for name in LABEL_FIELDS if getattr(data, name)}}


def _feedback_out(row: Feedback) -> dict:
    return {
        "id": row.id,
        "suggestion_id": row.suggestion_id,
        "bundle_version": row.bundle_version,
        "field": row.field,
        "predicted": row.predicted,
        "prediction_status": row.prediction_status,
        "value": row.value,
        "action": row.action,
        "source": row.source,
        "actor": row.actor,
        "on_behalf_of": row.on_behalf_of,
        "created_at": row.created_at,
    }
