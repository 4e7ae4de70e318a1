"""GET /v1/kb/search: hybrid search over every article that is not archived, for agents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter

from api.auth import roles
from triage.errors import InvalidQuery
from triage.knowledge.retrieval import METHODS, article_hits

__all__ = ("KbSearchController",)


class KbSearchController(Controller):
    path = "/v1/kb/search"
    tags = ["kb"]
    opt = roles("agent")

    @get("/", sync_to_thread=True)
    def search(
        self,
        state: State,
        q: str = Parameter(description="The question or keywords.", max_length=2000),
        limit: int = Parameter(default=10, ge=1, le=50),
        method: str = Parameter(default="hybrid", pattern="^(" + "|".join(METHODS) + ")$"),
    ) -> dict[str, Any]:
        """Draft and published articles ranked for ``q`` (dense + BM25, fused), each with its best section."""
        text = " ".join(q.split())
        if not text:
            raise InvalidQuery("q must not be empty", field="q")
        serving = state.serving
        vector = serving.encoder.encode_batch([text])[0]
        hits = article_hits(serving.search, vector, text, limit, statuses=("draft", "published"), method=method)
        return {"query": text, "method": method, "results": [asdict(h) for h in hits]}
