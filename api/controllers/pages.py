"""HTML pages people use: the demo portal (with the suggestion widget), published help articles, the
sign-in, the agent console and the analyst dashboard, and the static files they load. The pages are
public shells: their data comes from the API, called with the key the browser holds (the portal key the
widget carries, or the key signed in with), so a page shows exactly what that key's role may see."""

from __future__ import annotations

import re
from pathlib import Path

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import TooManyRequestsException
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from litestar.static_files import create_static_files_router

from api.auth import PUBLIC, Access, client_address
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
    async def demo_portal(self, request: Request, state: State, key: FromQuery[str | None] = None) -> Template:
        """A customer portal's ticket form with the widget; ``?key=`` gives it the portal key to use. Only a
        live portal key is put into the page (it is public); any other key, an admin's included, is not."""
        usable = key if key and KEY_PATTERN.fullmatch(key) and await _is_portal_key(request, key) else None
        origin = state.serving.settings.api.base_url()  # configured, never the request's Host header
        return Template("demo_portal.html", context={"key": usable, "origin": origin})

    @post("/demo/portal/sent", status_code=200, before_request=_accept_form)
    async def demo_sent(self) -> Template:
        """Where the demo form goes: a real portal would file the ticket here."""
        return Template("sent.html")

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
    def help_article(self, slug: FromPath[str], state: State) -> Template:
        """A published article as a page (404 for drafts, archived and unknown articles)."""
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
                    "title": current.title,
                    "html": render_html(current.body_markdown),
                    "lang": article.language,
                    "revision": current.number,
                    "updated": article.updated_at.date().isoformat(),
                },
            )
