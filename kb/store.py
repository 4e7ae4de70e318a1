"""The KB store: create, update, read and list articles; every content change is a new revision."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kb.errors import ArticleExists, ArticleNotFound, InvalidArticle
from kb.parsing import ARTICLE_STATUSES, ArticleDraft
from kb.rendering import split_sections
from models import Article, ArticleChunk, ArticleRevision
from models.db import page
from models.hashing import content_hash
from models.outbox import emit_event

__all__ = (
    "UpsertResult",
    "create_article",
    "delete_article",
    "get_article",
    "get_revision",
    "set_status",
    "list_articles",
    "update_article",
    "upsert_article",
)


def _announce(session: Session, article: Article, was_published: bool, revision_before: int) -> None:
    """``article.published`` when an article becomes published, or a published one gets a new revision."""
    if article.status != "published" or (was_published and article.current_revision == revision_before):
        return
    session.flush()
    data = {
        "slug": article.slug,
        "title": article.title,
        "language": article.language,
        "revision": article.current_revision,
        "tags": list(article.tags or []),
        "path": f"/help/{article.slug}",
        "first_publication": not was_published,
    }
    emit_event(session, "article.published", {"article": data}, subject=f"article:{article.id}")


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: ``created``, ``updated`` (new revision) or ``unchanged``."""

    article: Article
    action: str


def _rechunk(article: Article, title: str, body: str) -> None:
    article.chunks.clear()
    for position, section in enumerate(split_sections(title, body)):
        article.chunks.append(
            ArticleChunk(
                revision=article.current_revision,
                position=position,
                heading=section.heading[:500],
                heading_path=list(section.heading_path),
                anchor=section.anchor[:200],
                text=section.text,
                content_hash=content_hash(*section.heading_path, section.text),
            )
        )


def _add_revision(article: Article, draft: ArticleDraft) -> None:
    number = (article.revisions[-1].number + 1) if article.revisions else 1
    article.revisions.append(
        ArticleRevision(
            number=number,
            title=draft.title,
            body_markdown=draft.body,
            content_hash=content_hash(draft.title, draft.body),
        )
    )
    article.current_revision = number
    _rechunk(article, draft.title, draft.body)


def get_article(session: Session, slug: str) -> Article:
    """The article with ``slug``, revisions and chunks loaded; raise :class:`ArticleNotFound`."""
    article = session.scalar(
        select(Article)
        .where(Article.slug == slug)
        .options(selectinload(Article.revisions), selectinload(Article.chunks))
    )
    if article is None:
        raise ArticleNotFound(f"no article with slug {slug!r}", field="slug")
    return article


def list_articles(
    session: Session, *, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Article], int]:
    """A page of articles ordered by slug, and the total count."""
    query = select(Article)
    if status:
        query = query.where(Article.status == status)
    return page(session, query, Article.slug, limit=limit, offset=offset)


def create_article(session: Session, draft: ArticleDraft) -> Article:
    """Store a new article with its first revision and chunks; raise :class:`ArticleExists`."""
    if session.scalar(select(Article.id).where(Article.slug == draft.slug)) is not None:
        raise ArticleExists(f"an article with slug {draft.slug!r} already exists", field="slug")
    article = Article(
        slug=draft.slug,
        title=draft.title,
        language=draft.language,
        status=draft.status,
        tags=list(draft.tags),
        current_revision=0,
    )
    _add_revision(article, draft)
    session.add(article)
    session.flush()
    _announce(session, article, False, 0)
    return article


def update_article(session: Session, slug: str, draft: ArticleDraft) -> Article:
    """Apply ``draft`` to the article ``slug``: metadata in place, content as a new revision."""
    article = get_article(session, slug)
    was_published, revision_before = article.status == "published", article.current_revision
    if draft.slug != slug and session.scalar(select(Article.id).where(Article.slug == draft.slug)):
        raise ArticleExists(f"an article with slug {draft.slug!r} already exists", field="slug")
    article.slug = draft.slug
    article.language = draft.language
    article.status = draft.status
    article.tags = list(draft.tags)
    current = article.revisions[-1] if article.revisions else None
    if current is None or current.content_hash != content_hash(draft.title, draft.body):
        article.title = draft.title
        _add_revision(article, draft)
    session.flush()
    _announce(session, article, was_published, revision_before)
    return article


def set_status(session: Session, slug: str, status: str) -> Article:
    """Publish, archive or return an article to draft; the content and its revision stay as they are."""
    if status not in ARTICLE_STATUSES:
        raise InvalidArticle(f"status must be one of {', '.join(ARTICLE_STATUSES)}", field="status")
    article = get_article(session, slug)
    was_published = article.status == "published"
    article.status = status
    session.flush()
    _announce(session, article, was_published, article.current_revision)
    return article


def delete_article(session: Session, slug: str) -> None:
    """Delete an article with all its revisions and sections."""
    session.delete(get_article(session, slug))
    session.flush()


def get_revision(session: Session, slug: str, number: int) -> ArticleRevision:
    """Revision ``number`` of the article ``slug``; raise :class:`ArticleNotFound` naming the field."""
    article = get_article(session, slug)
    for revision in article.revisions:
        if revision.number == number:
            return revision
    raise ArticleNotFound(f"article {slug!r} has no revision {number}", field="revision")


def upsert_article(session: Session, draft: ArticleDraft) -> UpsertResult:
    """Create the article, or update it when its slug exists (used by folder imports)."""
    existing = session.scalar(select(Article).where(Article.slug == draft.slug))
    if existing is None:
        return UpsertResult(create_article(session, draft), "created")
    before = (existing.current_revision, existing.status, existing.language, list(existing.tags))
    article = update_article(session, draft.slug, draft)
    after = (article.current_revision, article.status, article.language, list(article.tags))
    return UpsertResult(article, "unchanged" if before == after else "updated")
