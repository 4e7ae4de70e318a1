"""GET/POST /v1/articles and GET/PUT /v1/articles/{slug}: Markdown in, safe HTML out."""

from __future__ import annotations

from litestar import Controller, get, post, put
from litestar.datastructures import State
from litestar.params import FromPath, JSONBody, Parameter

from api.schemas import ArticleIn, ArticleOut, ArticlePage, ArticleUpdate
from kb.parsing import ARTICLE_STATUSES, validate_draft
from kb.rendering import render_html
from kb.store import create_article, get_article, list_articles, update_article
from models import Article
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

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        status: str | None = Parameter(default=None, required=False, pattern="^(" + "|".join(ARTICLE_STATUSES) + ")$"),
        limit: int = Parameter(default=50, ge=1, le=200),
        offset: int = Parameter(default=0, ge=0),
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
    def create(self, data: JSONBody[ArticleIn], state: State) -> ArticleOut:
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
        state.serving.refresh_knowledge_now()
        return out

    @get("/{slug:str}", sync_to_thread=True)
    def read(self, slug: FromPath[str], state: State) -> ArticleOut:
        """An article's current revision."""
        with session_scope(state.serving.sessions) as session:
            return _article_out(get_article(session, slug))

    @put("/{slug:str}", sync_to_thread=True)
    def replace(self, slug: FromPath[str], data: JSONBody[ArticleUpdate], state: State) -> ArticleOut:
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
        state.serving.refresh_knowledge_now()
        return out
