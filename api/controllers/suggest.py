"""POST /v1/suggest: suggestions for a draft; only the audit trail records that they were served."""

from __future__ import annotations

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.auth import actor_of, roles
from api.schemas import SuggestIn
from triage.desk.suggest import Suggestions
from triage.desk.tickets import prediction_detail

__all__ = ("SuggestController",)


class SuggestController(Controller):
    path = "/v1/suggest"
    tags = ["suggest"]
    opt = roles("agent")

    @post("/", status_code=200)
    async def suggest(self, data: JSONBody[SuggestIn], request: Request, state: State) -> Suggestions:
        """Articles, similar resolved tickets and category/priority/assignee predictions for a text."""
        serving = state.serving
        result = await serving.suggest_async(data.subject, data.body, serving.top_k(data.top_k))
        state.audit_writer.record(actor_of(request), "prediction.served", **prediction_detail(result))
        return result  # encoded as it is (msgspec reads dataclasses): no dict copy of it first
