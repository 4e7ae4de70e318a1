"""/v1/articles: create, edit (a new revision), publish, archive, delete and read revisions.

Markdown in, safe HTML out. Every change that affects search rebuilds this process's KB index before
the response, so the portal never shows an archived or deleted article again.
"""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from api.auth import actor_of, roles
from api.schemas import LIMIT, OFFSET, ROW_ID, ArticleIn, ArticleOut, ArticlePage, ArticleUpdate
from kb.parsing import ARTICLE_STATUSES, validate_draft
from kb.rendering import render_html
from kb.store import (
    create_article,
    delete_article,
    get_article,
    get_revision,
    list_articles,
    set_status,
    update_article,
)
from models import Article
from models.audit import record_audit
from models.db import session_scope

__all__ = ("ArticleController",)


def _article_out(article: Article) -> ArticleOut:
    current = article.revisions[-1]
    return ArticleOut(
        slug=article.slug,
        title=article.title,
        language=article.language,
        status=article.status,
        tags=list(article.tags),
        revision=current.number,
        body_markdown=current.body_markdown,
        html=render_html(current.body_markdown),
        created_at=article.created_at,
        updated_at=article.updated_at,
    )


class ArticleController(Controller):
    path = "/v1/articles"
    tags = ["articles"]
    opt = roles("agent")

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        status: str | None = Parameter(default=None, required=False, pattern="^(" + "|".join(ARTICLE_STATUSES) + ")$"),
        limit: int = LIMIT,
        offset: int = OFFSET,
    ) -> ArticlePage:
        """A page of articles (without bodies), ordered by slug."""
        with session_scope(state.serving.sessions) as session:
            rows, total = list_articles(session, status=status, limit=limit, offset=offset)
            items = [
                {
                    "slug": a.slug,
                    "title": a.title,
                    "language": a.language,
                    "status": a.status,
                    "tags": a.tags,
                    "revision": a.current_revision,
                    "updated_at": a.updated_at,
                }
                for a in rows
            ]
        return ArticlePage(items=items, total=total, limit=limit, offset=offset)

    @post("/", sync_to_thread=True)
    def create(self, data: JSONBody[ArticleIn], request: Request, state: State) -> ArticleOut:
        """Create an article (201); 409 when the slug is taken."""
        draft = validate_draft(
            slug=data.slug,
            title=data.title,
            body=data.body,
            language=data.language,
            status=data.status,
            tags=data.tags,
        )
        with session_scope(state.serving.sessions) as session:
            out = _article_out(create_article(session, draft))
            record_audit(session, actor_of(request), "article.created", f"article:{out.slug}", revision=out.revision)
        state.serving.refresh_knowledge_now()
        return out

    @get("/{slug:str}", sync_to_thread=True)
    def read(self, slug: FromPath[str], state: State) -> ArticleOut:
        """An article's current revision."""
        with session_scope(state.serving.sessions) as session:
            return _article_out(get_article(session, slug))

    @put("/{slug:str}", sync_to_thread=True)
    def replace(self, slug: FromPath[str], data: JSONBody[ArticleUpdate], request: Request, state: State) -> ArticleOut:
        """Save a new revision; metadata left out keeps its current value."""
        with session_scope(state.serving.sessions) as session:
            article = get_article(session, slug)
            draft = validate_draft(
                slug=data.slug or article.slug,
                title=data.title,
                body=data.body,
                language=data.language or article.language,
                status=data.status or article.status,
                tags=article.tags if data.tags is None else data.tags,
            )
            out = _article_out(update_article(session, slug, draft))
            record_audit(session, actor_of(request), "article.edited", f"article:{out.slug}", revision=out.revision)
        state.serving.refresh_knowledge_now()
        return out

    def _set_status(self, slug: str, status: str, request: Request, state: State) -> ArticleOut:
        with session_scope(state.serving.sessions) as session:
            out = _article_out(set_status(session, slug, status))
            record_audit(session, actor_of(request), f"article.{status}", f"article:{slug}", revision=out.revision)
        state.serving.refresh_knowledge_now()
        return out

    @post("/{slug:str}/publish", status_code=200, sync_to_thread=True)
    def publish(self, slug: FromPath[str], request: Request, state: State) -> ArticleOut:
        """Publish the current revision: the portal may suggest it from now on."""
        return self._set_status(slug, "published", request, state)

    @post("/{slug:str}/archive", status_code=200, sync_to_thread=True)
    def archive(self, slug: FromPath[str], request: Request, state: State) -> ArticleOut:
        """Archive the article: never suggested or found by search again; its revisions stay readable."""
        return self._set_status(slug, "archived", request, state)

    @delete("/{slug:str}", status_code=204, sync_to_thread=True)
    def remove(self, slug: FromPath[str], request: Request, state: State) -> None:
        """Delete the article and all its revisions."""
        with session_scope(state.serving.sessions) as session:
            delete_article(session, slug)
            record_audit(session, actor_of(request), "article.deleted", f"article:{slug}")
        state.serving.refresh_knowledge_now()

    @get("/{slug:str}/revisions", sync_to_thread=True)
    def revisions(self, slug: FromPath[str], state: State) -> dict[str, Any]:
        """Every revision of the article, oldest first (without bodies)."""
        with session_scope(state.serving.sessions) as session:
            article = get_article(session, slug)
            items = [
                {"revision": r.number, "title": r.title, "content_hash": r.content_hash, "created_at": r.created_at}
                for r in article.revisions
            ]
            return {"slug": article.slug, "current_revision": article.current_revision, "revisions": items}

    @get("/{slug:str}/revisions/{number:int}", sync_to_thread=True)
    def revision(self, slug: FromPath[str], state: State, number: int = ROW_ID) -> dict[str, Any]:
        """One revision as Markdown and as safe HTML."""
        with session_scope(state.serving.sessions) as session:
            r = get_revision(session, slug, number)
            return {
                "slug": slug,
                "revision": r.number,
                "title": r.title,
                "body_markdown": r.body_markdown,
                "html": render_html(r.body_markdown),
                "created_at": r.created_at,
            }
