"""Agent assist over HTTP: recommended replies and macros for a ticket, similar and duplicate tickets,
merging, what the agent did with a reply, saved replies (macros), incident spikes."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import JSONBody, Parameter

from api.auth import actor_of, roles
from api.schemas import ROW_ID
from models.db import session_scope
from triage.assist.assistant import record_assist_feedback
from triage.assist.duplicates import merge_ticket
from triage.assist.incidents import incident_out, list_incidents
from triage.assist.macros import create_macro, delete_macro, get_macro, list_macros, macro_out, update_macro

__all__ = ("IncidentController", "MacroController", "TicketAssistController")

TOP_K = Parameter(default=None, required=False, ge=1, le=50, description="How many to list.")


class AssistFeedbackIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the agent did with a recommended reply (``reply_id`` and its ``sources``) or a macro."""

    action: Annotated[str, msgspec.Meta(max_length=20)]
    reply_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    macro_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)] | None = None
    sources: Annotated[list[dict[str, Any]], msgspec.Meta(max_length=50)] = []
    actor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    """Merge this ticket into ``primary_id``; ``notify_requester`` marks the requester as told."""

    primary_id: Annotated[int, msgspec.Meta(ge=1, le=2_147_483_647)]
    notify_requester: bool = True


class MacroIn(msgspec.Struct, forbid_unknown_fields=True):
    """A saved reply: Markdown with placeholders such as ``{{requester.first_name}}``."""

    title: Annotated[str, msgspec.Meta(max_length=200)]
    body: Annotated[str, msgspec.Meta(max_length=20_000)]


class TicketAssistController(Controller):
    path = "/v1/tickets/{ticket_id:int}"
    tags = ["assist"]
    opt = roles("agent")

    @get("/assist", sync_to_thread=True)
    def assist(
        self, request: Request, state: State, ticket_id: int = ROW_ID, top_k: int | None = TOP_K
    ) -> dict[str, Any]:
        """Recommended replies built from the resolutions of similar resolved tickets and the best KB
        sections (each citing its sources, near-identical ones merged, in the ticket's language when there
        is one), and the most similar macros, placeholders filled."""
        serving = state.serving
        with session_scope(serving.sessions) as session:
            return serving.assistant().assist(
                session,
                ticket_id,
                agent=actor_of(request).name,
                top_k=serving.top_k(top_k) if top_k else 3,
                min_similarity=serving.settings.assist.min_similarity,
            )

    @post("/assist/feedback", status_code=201, sync_to_thread=True)
    def assist_feedback(
        self, data: JSONBody[AssistFeedbackIn], request: Request, state: State, ticket_id: int = ROW_ID
    ) -> dict[str, Any]:
        """Record whether the agent used, edited or dismissed a recommended reply or a macro."""
        with session_scope(state.serving.sessions) as session:
            row = record_assist_feedback(
                session,
                ticket_id,
                action=data.action,
                reply_id=data.reply_id,
                macro_id=data.macro_id,
                sources=data.sources,
                actor=actor_of(request).name,
                on_behalf_of=data.actor,
            )
            return {"id": row.id, "kind": row.kind, "action": row.action, "created_at": row.created_at}

    @get("/similar", sync_to_thread=True)
    def similar(self, state: State, ticket_id: int = ROW_ID, top_k: int | None = TOP_K) -> dict[str, Any]:
        """Resolved tickets like this one (what was done last time) and open tickets from the duplicate
        window that ask the same (duplicate candidates, with scores)."""
        serving = state.serving
        assist = serving.settings.assist
        with session_scope(serving.sessions) as session:
            return serving.assistant().similar(
                session,
                ticket_id,
                top_k=serving.top_k(top_k),
                window_days=assist.duplicate_window_days,
                threshold=assist.duplicate_threshold,
            )

    @post("/merge", status_code=200, sync_to_thread=True)
    def merge(self, data: JSONBody[MergeIn], request: Request, state: State, ticket_id: int = ROW_ID) -> dict[str, Any]:
        """Merge this ticket (a duplicate) into ``primary_id``: it is closed and points at its primary; its
        history stays. 409 for a merge into itself, of a merged ticket, or into a merged ticket."""
        with session_scope(state.serving.sessions) as session:
            ticket = merge_ticket(
                session, ticket_id, data.primary_id, notify=data.notify_requester, actor=actor_of(request)
            )
            return {
                "id": ticket.id,
                "status": ticket.status,
                "merged_into_id": ticket.merged_into_id,
                "requester_notified_at": ticket.requester_notified_at,
            }


class MacroController(Controller):
    path = "/v1/macros"
    tags = ["assist"]
    opt = roles("agent")

    @get("/", sync_to_thread=True)
    def index(self, state: State) -> list[dict[str, Any]]:
        """Every macro, most used first."""
        with session_scope(state.serving.sessions) as session:
            return [macro_out(m) for m in list_macros(session)]

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[MacroIn], state: State) -> dict[str, Any]:
        """Save a macro (201); 422 naming ``body`` for an unknown placeholder."""
        with session_scope(state.serving.sessions) as session:
            return macro_out(create_macro(session, data.title, data.body))

    @get("/{macro_id:int}", sync_to_thread=True)
    def read(self, state: State, macro_id: int = ROW_ID) -> dict[str, Any]:
        """One macro."""
        with session_scope(state.serving.sessions) as session:
            return macro_out(get_macro(session, macro_id))

    @put("/{macro_id:int}", sync_to_thread=True)
    def replace(self, data: JSONBody[MacroIn], state: State, macro_id: int = ROW_ID) -> dict[str, Any]:
        """Replace a macro's title and body."""
        with session_scope(state.serving.sessions) as session:
            return macro_out(update_macro(session, macro_id, data.title, data.body))

    @delete("/{macro_id:int}", status_code=204, sync_to_thread=True)
    def remove(self, state: State, macro_id: int = ROW_ID) -> None:
        """Delete a macro."""
        with session_scope(state.serving.sessions) as session:
            delete_macro(session, macro_id)


class IncidentController(Controller):
    path = "/v1/incidents"
    tags = ["assist"]
    opt = roles("agent", "analyst")

    @get("/candidates")
    async def candidates(self, state: State) -> dict[str, Any]:
        """Groups of similar tickets arriving faster than usual in the recent window (size, rate against
        the baseline, a representative subject, member ids); a group that has just crossed the threshold
        is recorded as an incident event."""
        serving = state.serving
        found = await anyio.to_thread.run_sync(serving.detect_incidents_now)
        spike = serving.spike_settings()
        return {"window_hours": spike.window_hours, "min_size": spike.min_size, "candidates": found}

    @get("/events", sync_to_thread=True)
    def events(self, state: State, limit: int = Parameter(default=50, ge=1, le=500)) -> list[dict[str, Any]]:
        """The recorded incident events, newest first."""
        with session_scope(state.serving.sessions) as session:
            return [incident_out(e) for e in list_incidents(session, limit)]
