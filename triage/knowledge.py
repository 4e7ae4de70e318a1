"""The searchable knowledge base of a serving process, built from the database and kept current.

Articles change independently of the trained classifiers, so their index is not part of a bundle:
every process builds it from the article sections in the database, encoding only passages whose text
is not in the embedding cache, and rebuilds it when the KB's change stamp moves. A rebuild after an
edit therefore re-embeds only the changed sections, and a deleted or archived article drops out of
the next search.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Article, ArticleChunk
from triage.embedding_cache import EmbeddingCache, encode_cached
from triage.encoder import Encoder
from triage.retrieval import KnowledgeSearch, section_passages

__all__ = ("Knowledge", "kb_stamp", "load_knowledge")

SEARCHABLE = ("draft", "published")  # archived articles are never searched


@dataclass(frozen=True)
class Knowledge:
    """A built index and the change stamp of the KB it was built from."""

    stamp: tuple[Any, ...]
    search: KnowledgeSearch
    encoded: int  # distinct passage texts that had to be encoded (not cached) for this build


def kb_stamp(session: Session) -> tuple[Any, ...]:
    """Changes whenever an article is added, edited, re-statused or deleted (count, newest edit, id sum)."""
    count, newest, ids = session.execute(
        select(func.count(Article.id), func.max(Article.updated_at), func.coalesce(func.sum(Article.id), 0))
    ).one()
    return (int(count), newest.isoformat() if newest else None, int(ids))


def _sections(session: Session) -> list[dict[str, Any]]:
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


def load_knowledge(
    session: Session,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Knowledge:
    """Index every draft and published article section; cached passages are not encoded again."""
    stamp = kb_stamp(session)
    sections = _sections(session)
    passages = [p for section in sections for p in section_passages(section)]
    counts: dict[str, int] = {}

    def track(done: int, total: int) -> None:
        counts.setdefault("cached", done)  # the first call: what the cache already had
        counts["total"] = total
        progress(done, total)

    vectors = encode_cached(encoder, [text for _, text in passages], cache, progress=track)
    search = KnowledgeSearch.build(sections, [pid for pid, _ in passages], vectors)
    return Knowledge(stamp=stamp, search=search, encoded=counts["total"] - counts["cached"])
