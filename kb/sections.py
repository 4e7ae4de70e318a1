"""What the knowledge base's search index is built from: the sections of every searchable article, and
a stamp that changes whenever an article is added, edited, re-statused or deleted."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Article, ArticleChunk

__all__ = ("SEARCHABLE", "kb_stamp", "searchable_sections")

SEARCHABLE = ("draft", "published")  # archived articles are never searched


def kb_stamp(session: Session) -> tuple[Any, ...]:
    """Changes whenever an article is added, edited, re-statused or deleted (count, newest edit, id sum)."""
    count, newest, ids = session.execute(
        select(func.count(Article.id), func.max(Article.updated_at), func.coalesce(func.sum(Article.id), 0))
    ).one()
    return (int(count), newest.isoformat() if newest else None, int(ids))


def searchable_sections(session: Session) -> list[dict[str, Any]]:
    """Every section of a draft or published article with its article's slug, title, language, status
    and revision, in a stable order (what the serving index is built from)."""
    rows = session.execute(
        select(ArticleChunk, Article)
        .join(Article, ArticleChunk.article_id == Article.id)
        .where(Article.status.in_(SEARCHABLE))
        .order_by(ArticleChunk.id)
    )
    return [
        {
            "id": chunk.id,
            "slug": article.slug,
            "title": article.title,
            "language": article.language,
            "status": article.status,
            "revision": chunk.revision,
            "heading": chunk.heading,
            "heading_path": list(chunk.heading_path),
            "anchor": chunk.anchor,
            "text": chunk.text,
        }
        for chunk, article in rows
    ]
