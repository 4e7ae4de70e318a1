"""GET /v1/analytics/deflection: deflection overall, per article and revision, and KB gaps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter

from models.db import session_scope
from triage.deflection import deflection_report
from triage.embedding_cache import EmbeddingCache, encode_cached

__all__ = ("AnalyticsController",)


class AnalyticsController(Controller):
    path = "/v1/analytics"
    tags = ["analytics"]

    @get("/deflection", sync_to_thread=True)
    def deflection(
        self,
        state: State,
        since: Annotated[datetime | None, Parameter(description="Only portal sessions since this time.")] = None,
        clusters: int = Parameter(default=5, ge=1, le=50, description="How many KB-gap clusters to list."),
    ) -> dict[str, Any]:
        """Deflection rate overall, per article and per article revision; the biggest clusters of drafts
        that were filed as tickets anyway, with example drafts."""
        serving = state.serving
        cache = EmbeddingCache.in_artifacts(serving.settings.models.artifacts_dir, serving.encoder)
        with session_scope(serving.sessions) as session:
            return deflection_report(
                session, lambda texts: encode_cached(serving.encoder, texts, cache), since=since, max_clusters=clusters
            )
