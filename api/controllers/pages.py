"""HTML pages people use: the demo portal (with the suggestion widget), published help articles, the
sign-in, the agent console and the analyst dashboard, and the static files they load. The pages are
public shells: their data comes from the API, called with the key the browser holds (the portal key the
widget carries, or the key signed in with), so a page shows exactly what that key's role may see."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from litestar.static_files import create_static_files_router

from api.auth import PUBLIC, Access, client_address
from api.i18n import Catalogue
from kb.errors import ArticleNotFound
from kb.rendering import render_html
from kb.store import get_article
from models.db import session_scope

__all__ = ("PAGE_HEADERS", "PagesController", "static_files")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
KEY_PATTERN = re.compile(r"^hdt_[A-Za-z0-9_-]{20,80}$")
# Pages run only their own scripts and styles; the API they call is on the same origin.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def _accept_form(_request: Request) -> None:
    """The demo form posts form data, which the API's JSON-only check would refuse; nothing reads it."""


async def _is_portal_key(request: Request, key: str) -> bool:
    """Whether ``key`` is a live portal key (unknown keys count against the client's address)."""
    access: Access = request.app.state.access
    try:
        caller = await access.authenticate(key, client_address(request))
    except TooManyRequestsException:
        return False
    return caller is not None and caller.actor.role == "portal"


def _language(request: Request, lang: str | None) -> dict[str, Any]:
    """Template context for the customer's language: ``?lang=``, else Accept-Language, else English. ``lang``
    is the page's language and ``t(key, **values)`` its texts."""
    catalogue: Catalogue = request.app.state.translations
    language = catalogue.negotiate(lang, request.headers.get("accept-language"))
    return {"lang": language, "t": partial(catalogue.text, language)}


def _headers(context: dict[str, Any]) -> dict[str, str]:
    """A page in the customer's language says which, and that the language was negotiated."""
    return {"Content-Language": context["lang"], "Vary": "Accept-Language"}


def static_files():
    """``/static/*``: the portal widget, the pages' CSS and scripts (public, cached for an hour)."""
    from litestar.datastructures import CacheControlHeader

    return create_static_files_router(
        path="/static", directories=[STATIC_DIR], opt=PUBLIC, cache_control=CacheControlHeader(max_age=3600)
    )


class PagesController(Controller):
    path = "/"
    include_in_schema = False
    opt = PUBLIC
    response_headers = PAGE_HEADERS

    @get("/demo/portal")
    async def demo_portal(
        self, request: Request, state: State, key: FromQuery[str | None] = None, lang: FromQuery[str | None] = None
    ) -> Template:
        """A customer portal's ticket form with the widget; ``?key=`` gives it the portal key to use. Only a
        live portal key is put into the page (it is public); any other key, an admin's included, is not.
        The form is in the customer's language (``?lang=``, else Accept-Language), and so is the widget,
        which reads the page's ``<html lang>``."""
        usable = key if key and KEY_PATTERN.fullmatch(key) and await _is_portal_key(request, key) else None
        origin = state.serving.settings.api.base_url()  # configured, never the request's Host header
        context = _language(request, lang)
        return Template(
            "demo_portal.html", context={**context, "key": usable, "origin": origin}, headers=_headers(context)
        )

    @post("/demo/portal/sent", status_code=200, before_request=_accept_form)
    async def demo_sent(self, request: Request, lang: FromQuery[str | None] = None) -> Template:
        """Where the demo form goes: a real portal would file the ticket here."""
        context = _language(request, lang)
        return Template("sent.html", context=context, headers=_headers(context))

    @get("/signin")
    async def signin(self) -> Template:
        """Sign in with an API key (kept in the browser tab, sent as a Bearer token by the pages)."""
        return Template("signin.html")

    @get("/console")
    async def console(self) -> Template:
        """The agent console (agent and admin keys); its data comes from the API."""
        return Template("console.html", context={"page": "console"})

    @get("/dashboard")
    async def dashboard(self) -> Template:
        """The analyst dashboard (analyst and admin keys); its data comes from the API."""
        return Template("dashboard.html", context={"page": "dashboard"})

    @get("/help/{slug:str}", sync_to_thread=True)
    def help_article(
        self, request: Request, slug: FromPath[str], state: State, lang: FromQuery[str | None] = None
    ) -> Template:
        """A published article as a page (404 for drafts, archived and unknown articles). The page's own
        texts are in the customer's language (``?lang=``, else Accept-Language, else English); the article's
        text is in the language it was written in, and marked so."""
        context = _language(request, lang)
        with session_scope(state.serving.sessions) as session:
            try:
                article = get_article(session, slug)
            except ArticleNotFound:
                article = None
            if article is None or article.status != "published":  # one answer: nothing tells which
                raise ArticleNotFound("no published article with this slug", field="slug")
            current = article.revisions[-1]
            return Template(
                "help_article.html",
                context={
                    **context,
                    "title": current.title,
                    "html": render_html(current.body_markdown),
                    "article_lang": article.language,
                    "revision": current.number,
                    "updated": article.updated_at.date().isoformat(),
                },
                headers=_headers(context),
            )
