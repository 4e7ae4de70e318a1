"""The self-service portal: POST /v1/portal/suggest and POST /v1/portal/events (articles only, never tickets),
and GET /v1/portal/translations (the widget's texts in the customer's language)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter

from api.auth import roles
from api.i18n import Catalogue
from api.schemas import PortalEventIn, SuggestIn
from models.db import session_scope
from triage.knowledge.portal import portal_suggest, record_event

__all__ = ("PortalController",)


class PortalController(Controller):
    path = "/v1/portal"
    tags = ["portal"]
    opt = roles("portal")

    @post("/suggest", status_code=200, sync_to_thread=True)
    def suggest(self, data: JSONBody[SuggestIn], state: State) -> dict[str, Any]:
        """Published articles for a draft as the customer types, or ``nothing_fits``; the suggestion id
        ties later events to what was shown."""
        serving = state.serving
        top_k = serving.top_k(data.top_k)
        knowledge, models = serving.knowledge, serving.settings.models
        with session_scope(serving.sessions) as session:
            answer = portal_suggest(
                session,
                knowledge.search if knowledge else None,
                serving.encoder,
                subject=data.subject,
                body=data.body,
                top_k=top_k,
                min_similarity=models.kb_min_similarity,
                model=knowledge.nothing_fits if knowledge else None,
                max_probability=models.kb_nothing_fits_probability,
                redactor=serving.redactor,
            )
        return asdict(answer)

    @post(
        "/events",
        status_code=201,
        sync_to_thread=True,
        responses={200: ResponseSpec(data_container=dict[str, Any], description="A repeat: the first event")},
    )
    def event(self, data: JSONBody[PortalEventIn], state: State) -> Response[dict[str, Any]]:
        """Record shown, opened, helpful, not_helpful or ticket_filed for a suggestion (404 if unknown):
        201 the first time, 200 with the same event for a repeat, which is not counted again."""
        with session_scope(state.serving.sessions) as session:
            event, new = record_event(session, data.suggestion_id, data.type, data.article)
            return Response(
                status_code=201 if new else 200,
                content={
                    "id": event.id,
                    "suggestion_id": event.suggestion_id,
                    "type": event.type,
                    "article": event.article_slug,
                    "article_revision": event.article_revision,
                    "created_at": event.created_at,
                },
            )

    @get("/translations")
    async def translations(
        self,
        request: Request,
        state: State,
        lang: Annotated[
            str | None,
            QueryParameter(
                max_length=200,
                description="Languages the customer reads, most preferred first (comma-separated, e.g. `de,nl`); "
                "without one that is available, the Accept-Language header decides, then English.",
            ),
        ] = None,
    ) -> Response[dict[str, Any]]:
        """The customer-facing texts in one language: the shipped translations with the deployment's own
        (``HELPDESK_TRANSLATIONS_DIR``) over them, English wherever a text is missing. ``available`` lists
        every language there are texts for."""
        catalogue: Catalogue = state.translations
        language = catalogue.negotiate(lang, request.headers.get("accept-language"))
        return Response(
            {"language": language, "available": list(catalogue.languages), "texts": catalogue.texts_for(language)},
            headers={"Content-Language": language, "Vary": "Accept-Language", "Cache-Control": "private, max-age=300"},
        )
