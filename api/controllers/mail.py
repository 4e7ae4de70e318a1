"""Inbound mail (admin): what became of each mail the poller read, quarantined and ignored mail included."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import QueryParameter

from api.auth import roles
from api.schemas import LIMIT, OFFSET
from models.db import session_scope
from models.mail import MAIL_OUTCOMES
from triage.channels.mail.intake import list_inbound

__all__ = ("MailController",)


class MailController(Controller):
    path = "/v1/mail"
    tags = ["mail"]
    opt = roles()

    @get("/inbound", sync_to_thread=True)
    def inbound(
        self,
        state: State,
        outcome: Annotated[str | None, QueryParameter(pattern="^(" + "|".join(MAIL_OUTCOMES) + ")$")] = None,
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> dict[str, Any]:
        """Each mail read, newest first: its outcome (``ticket``, ``reply``, ``ignored`` as auto-generated,
        ``quarantined`` with the reason), the ticket it became or joined, sender, subject and size."""
        with session_scope(state.serving.sessions) as session:
            rows, total = list_inbound(session, outcome=outcome, limit=limit, offset=offset)
            items = [
                {
                    "id": r.id,
                    "message_id": r.message_key,
                    "mailbox": r.mailbox,
                    "outcome": r.outcome,
                    "reason": r.reason,
                    "detail": r.detail,
                    "ticket_id": r.ticket_id,
                    "sender": r.sender,
                    "subject": r.subject,
                    "size": r.size,
                    "created_at": r.created_at,
                }
                for r in rows
            ]
        return {"items": items, "total": total, "limit": limit, "offset": offset}
