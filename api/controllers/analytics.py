"""Analytics: portal deflection and KB gaps; prediction acceptance, abstention and drift."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import Parameter

from api.auth import roles
from models.db import session_scope
from triage.analytics.deflection import deflection_report
from triage.analytics.predictions import prediction_report
from triage.analytics.volume import ticket_volume
from triage.assist.assistant import assist_report
from triage.ml.embedding_cache import EmbeddingCache, encode_cached

__all__ = ("AnalyticsController",)


class AnalyticsController(Controller):
    path = "/v1/analytics"
    tags = ["analytics"]
    opt = roles("analyst")

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

    @get("/predictions", sync_to_thread=True)
    def predictions(
        self,
        state: State,
        since: Annotated[
            datetime | None, Parameter(description="Only feedback and suggestions since this time.")
        ] = None,
        bucket: Literal["day", "week"] = Parameter(default="day", description="Time bucket of the series."),
        recent_days: float = Parameter(default=7.0, gt=0, le=365, description="The recent window for drift."),
    ) -> dict[str, Any]:
        """Acceptance and override rate per field, per bundle version and over time; abstention rate;
        drift of recent tickets (low confidence, unseen vocabulary) against the active bundle's training."""
        serving = state.serving
        with session_scope(serving.sessions) as session:
            return prediction_report(session, serving.bundle, since=since, bucket=bucket, recent_days=recent_days)

    @get("/volume", sync_to_thread=True)
    def volume(
        self,
        state: State,
        since: Annotated[datetime | None, Parameter(description="Only tickets created since this time.")] = None,
        bucket: Literal["day", "week"] = Parameter(default="week", description="Time bucket of the series."),
        top: int = Parameter(default=8, ge=1, le=50, description="How many categories to show apart."),
    ) -> dict[str, Any]:
        """Tickets created per day or week and category (the busiest ``top``; the rest as ``other``)."""
        with session_scope(state.serving.sessions) as session:
            return ticket_volume(session, since=since, bucket=bucket, top=top)

    @get("/assist", sync_to_thread=True)
    def assist(
        self,
        state: State,
        since: Annotated[datetime | None, Parameter(description="Only decisions since this time.")] = None,
    ) -> dict[str, Any]:
        """How agents used recommended replies and macros: used, edited or dismissed, and the sources
        used most."""
        with session_scope(state.serving.sessions) as session:
            return assist_report(session, since=since)
