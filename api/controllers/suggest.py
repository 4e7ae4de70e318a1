"""POST /v1/suggest: suggestions for a draft, without storing anything."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, post
from litestar.datastructures import State
from litestar.params import JSONBody

from api.schemas import SuggestIn
from triage.suggest import suggest

__all__ = ("SuggestController",)


class SuggestController(Controller):
    path = "/v1/suggest"
    tags = ["suggest"]

    @post("/", status_code=200, sync_to_thread=True)
    def suggest(self, data: JSONBody[SuggestIn], state: State) -> dict[str, Any]:
        """Articles, similar resolved tickets and category/priority/assignee predictions for a text."""
        serving = state.serving
        top_k = serving.top_k(data.top_k)
        result = suggest(
            serving.bundle, serving.search, serving.encoder, subject=data.subject, body=data.body, top_k=top_k
        )
        return asdict(result)
