"""POST /v1/suggest: suggestions for a draft; only the audit trail records that they were served."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.auth import actor_of, roles
from api.schemas import SuggestIn
from models.db import session_scope
from triage.desk.tickets import audit_prediction

__all__ = ("SuggestController",)


class SuggestController(Controller):
    path = "/v1/suggest"
    tags = ["suggest"]
    opt = roles("agent")

    @post("/", status_code=200, sync_to_thread=True)
    def suggest(self, data: JSONBody[SuggestIn], request: Request, state: State) -> dict[str, Any]:
        """Articles, similar resolved tickets and category/priority/assignee predictions for a text."""
        serving = state.serving
        top_k = serving.top_k(data.top_k)
        result = serving.suggest(data.subject, data.body, top_k)
        with session_scope(serving.sessions) as session:
            audit_prediction(session, actor_of(request), result)
        return asdict(result)
