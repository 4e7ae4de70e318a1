"""POST /v1/tickets and GET /v1/tickets/{id}."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from api.schemas import TicketIn, TicketOut
from models import Suggestion, Ticket
from models.db import session_scope
from triage.suggest import suggest
from triage.tickets import create_ticket, get_ticket, latest_suggestion, save_suggestion

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


def _ticket_out(ticket: Ticket, suggestion: Suggestion | None) -> TicketOut:
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
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        suggestion=_suggestion_out(suggestion),
    )


class TicketController(Controller):
    path = "/v1/tickets"
    tags = ["tickets"]

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[TicketIn], state: State) -> TicketOut:
        """Store a ticket and the suggestions made for it (201). Intake works even with no model."""
        serving = state.serving
        with session_scope(serving.sessions) as session:
            ticket = create_ticket(
                session,
                subject=data.subject,
                body=data.body,
                requester=data.requester,
                channel=data.channel,
                language=data.language,
                external_id=data.external_id,
            )
            result = suggest(
                serving.bundle,
                serving.search,
                serving.encoder,
                subject=ticket.subject,
                body=ticket.body,
                top_k=serving.settings.api.default_top_k,
            )
            row = save_suggestion(session, ticket.id, result)
            return _ticket_out(ticket, row)

    @get("/{ticket_id:int}", sync_to_thread=True)
    def read(self, state: State, ticket_id: int = Parameter(ge=1)) -> TicketOut:
        """A ticket and its latest suggestion."""
        with session_scope(state.serving.sessions) as session:
            ticket = get_ticket(session, ticket_id)
            return _ticket_out(ticket, latest_suggestion(session, ticket.id))
