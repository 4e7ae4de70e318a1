"""Hybrid article retrieval: dense (faiss) and BM25 over article sections, fused, aggregated to articles.

Dense search scores a section by the cosine similarity of its best passage; BM25 scores whole sections.
``hybrid`` fuses them as ``cosine + lexical_weight * bm25 / best bm25 of the query``: the cosine keeps
its meaning (how close the best passage is) and BM25 breaks near-ties towards the sections that share
the query's words. With a multilingual encoder BM25 counts only for sections in the query's language:
across languages it can only match shared names (VPN, Outlook), which pulled the encoder's right answer
down. An English-only encoder keeps it, since shared names are then the best cross-language signal.
``rrf`` (reciprocal rank fusion, ``sum of 1 / (60 + rank)``) is kept for comparison: it ignores how
far apart the scores are, which lost to the weighted sum in our measurements. An article takes the
score of its best section, whose heading, anchor and snippet represent it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from triage.knowledge.snippets import marked_snippet
from triage.ml.index import VectorIndex
from triage.ml.lexical import LexicalIndex, analyse
from triage.text.language import detect_language
from triage.text.texts import chunk_text

__all__ = (
    "METHODS",
    "PASSAGES_PER_SECTION",
    "ArticleHit",
    "KnowledgeSearch",
    "article_hits",
    "marked_snippet",
    "section_blocks",
    "section_passages",
)

METHODS = ("hybrid", "dense", "bm25", "rrf")
TITLE_WEIGHT = 0.9  # a section scores at least this times its heading path's cosine
PASSAGES_PER_SECTION = 64


def section_blocks(chunk: dict[str, Any], *, min_chars: int = 40) -> list[str]:
    """A section's passages before the heading path goes in front: one block (paragraph, list item) each,
    blocks shorter than ``min_chars`` joined to the next, anything past the limit in the last one."""
    passages: list[str] = []
    pending = ""
    for block in chunk["text"].split("\n"):
        pending = f"{pending} {block}".strip()
        if len(pending) >= min_chars:
            passages.append(pending)
            pending = ""
    if pending and passages:
        passages[-1] = f"{passages[-1]} {pending}"
    elif pending or not passages:
        passages.append(pending or chunk["heading"])
    head, tail = passages[: PASSAGES_PER_SECTION - 3], passages[PASSAGES_PER_SECTION - 3 :]
    return [*head, " ".join(tail)] if tail else head


def section_passages(chunk: dict[str, Any], *, min_chars: int = 40) -> list[tuple[int, str]]:
    """What to embed of a section, as (id, text): the whole section, its passages (each with the heading
    path in front), and last the heading path alone ("I forgot my VPN password > Steps").

    A passage is one block of :func:`section_blocks`: a long section about several things then matches a
    question about any of them, and the whole section's embedding says what it is about overall. Ids are
    ``section id * PASSAGES_PER_SECTION + n``, ``n = 0`` for the whole section, so everything of a
    section can be removed by its id. The heading path alone makes the title a signal of its own: a short
    query that paraphrases a title ("vpn password") finds that article even when another article's body
    says "VPN" more often.
    """
    whole = " ".join(chunk["text"].split()) or chunk["heading"]
    base = chunk["id"] * PASSAGES_PER_SECTION
    blocks = section_blocks(chunk, min_chars=min_chars)
    texts = [(base + n, chunk_text(chunk["heading_path"], text)) for n, text in enumerate([whole, *blocks])]
    return [*texts, (base + len(texts), " > ".join(chunk["heading_path"]))]


@dataclass(frozen=True)
class ArticleHit:
    """An article, represented by its best-matching section: heading, a link to its anchor, a snippet."""

    slug: str
    title: str
    language: str
    revision: int
    score: float
    similarity: float
    heading: str
    heading_path: list[str]
    anchor: str
    snippet: str
    url: str


class KnowledgeSearch:
    """Dense passages and BM25 sections over the same articles, and the sections' metadata."""

    def __init__(
        self,
        dense: VectorIndex,
        lexical: LexicalIndex,
        chunks: dict[int, dict[str, Any]],
        *,
        lexical_weight: float = 0.2,
        cross_language_lexical: bool = True,
    ) -> None:
        self.dense, self.lexical, self.chunks = dense, lexical, chunks
        self.lexical_weight = lexical_weight
        self.cross_language_lexical = cross_language_lexical
        self._passage_counts: dict[int, int] = {}

    @classmethod
    def build(
        cls,
        chunks: Sequence[dict[str, Any]],
        passage_ids: Sequence[int],
        passage_vectors: np.ndarray,
        *,
        lexical_weight: float = 0.2,
        cross_language_lexical: bool = True,
    ) -> KnowledgeSearch:
        """Index sections (dicts with ``id``, ``slug``, ``title``, ``language``, ``heading_path``, ``text``
        ...) and the embeddings of their :func:`section_passages`. ``cross_language_lexical`` false (for a
        multilingual encoder): BM25 counts in the hybrid score only for sections in the query's language."""
        dense = VectorIndex(passage_vectors.shape[1] if len(passage_vectors) else 384)
        if len(passage_ids):
            dense.add(list(passage_ids), passage_vectors)
        lexical = LexicalIndex.build(
            [c["id"] for c in chunks],
            [chunk_text(c["heading_path"], c["text"]) for c in chunks],
            [c.get("language") or "en" for c in chunks],
        )
        search = cls(
            dense,
            lexical,
            {c["id"]: c for c in chunks},
            lexical_weight=lexical_weight,
            cross_language_lexical=cross_language_lexical,
        )
        for passage_id in passage_ids:
            chunk_id = passage_id // PASSAGES_PER_SECTION
            search._passage_counts[chunk_id] = search._passage_counts.get(chunk_id, 0) + 1
        return search

    def _dense(self, vector: np.ndarray, depth: int) -> list[tuple[int, float]]:
        """Sections ranked by their dense score (:meth:`_dense_scores`)."""
        found: dict[int, dict[str, float]] = {}
        for passage_id, score in self.dense.search(vector, depth * 8):  # best first
            chunk_id, n = divmod(passage_id, PASSAGES_PER_SECTION)
            if chunk_id in self.chunks:
                last = self._passage_counts.get(chunk_id, 0) - 1
                found.setdefault(chunk_id, {}).setdefault(
                    "whole" if n == 0 else "title" if n == last else "passage", score
                )
        scores = self._dense_scores(vector, found)
        return sorted(scores.items(), key=lambda item: -item[1])[:depth]

    def _dense_scores(self, vector: np.ndarray, found: dict[int, dict[str, float]]) -> dict[int, float]:
        """Per section of ``found``: ``max(0.7 * best passage cosine + 0.3 * whole-section cosine, 0.9 *
        heading-path cosine)``, from the similarities the search found (``found[section]``, by part) or,
        where missing, computed for all sections in one product: a section is at least as good a match
        as its title (and heading path) alone."""
        wanted: list[int] = []
        for chunk_id, parts in found.items():
            base, count = chunk_id * PASSAGES_PER_SECTION, self._passage_counts.get(chunk_id, 1)
            wanted += [base] if "whole" not in parts else []
            wanted += [base + count - 1] if "title" not in parts and count > 2 else []
            wanted += range(base + 1, base + count - 1) if "passage" not in parts else []
        sims = dict(zip(wanted, (self.dense.reconstruct_many(wanted) @ vector).tolist(), strict=True))
        scores = {}
        for chunk_id, parts in found.items():
            base, count = chunk_id * PASSAGES_PER_SECTION, self._passage_counts.get(chunk_id, 1)
            whole = parts["whole"] if "whole" in parts else sims[base]
            title = parts["title"] if "title" in parts else sims[base + count - 1] if count > 2 else whole
            passages = (sims[n] for n in range(base + 1, base + count - 1))
            passage = parts["passage"] if "passage" in parts else max(passages, default=whole)
            scores[chunk_id] = max(0.7 * passage + 0.3 * whole, TITLE_WEIGHT * title)
        return scores

    def _dense_score(self, vector: np.ndarray, chunk_id: int) -> float:
        """One section's dense score (:meth:`_dense_scores`), every part computed."""
        return self._dense_scores(vector, {chunk_id: {}})[chunk_id]

    def search(
        self,
        vector: np.ndarray,
        query: str,
        *,
        top_k: int = 5,
        method: str = "hybrid",
        language: str = "en",
        statuses: tuple[str, ...] | None = None,
        depth: int = 50,
    ) -> list[ArticleHit]:
        """The ``top_k`` best articles for a query (its embedding and its text), best first.

        Args:
            statuses: when given, only articles in these statuses (e.g. ``("published",)``) are returned.
            depth: how many sections each method contributes before fusion.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        if not self.chunks:
            return []
        tokens = analyse(query, language)
        dense = self._dense(vector, depth)
        similarity = dict(dense)  # each section's dense score
        lexical = self.lexical.search(tokens, depth) if method != "dense" else []
        if method == "dense":
            scores = dict(dense)
        elif method == "bm25":
            scores = dict(lexical)
        elif method == "rrf":
            scores = {}
            for ranking in (dense, lexical):
                for rank, (chunk_id, _) in enumerate(ranking, start=1):
                    scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (60 + rank)
        else:
            scores = dict(dense)
            top_lexical = lexical[0][1] if lexical else 1.0
            if not self.cross_language_lexical:  # across languages BM25 matches only shared names: it would
                lexical = [(c, x) for c, x in lexical if (self.chunks[c].get("language") or "en") == language]
            # found by BM25 only: its dense score still counts
            similarity |= self._dense_scores(vector, {c: {} for c, _ in lexical if c not in scores})
            scores |= similarity
            for chunk_id, score in lexical:
                scores[chunk_id] += self.lexical_weight * score / top_lexical
        best: dict[str, tuple[float, int]] = {}
        for chunk_id, score in sorted(scores.items(), key=lambda item: -item[1]):
            chunk = self.chunks[chunk_id]
            if statuses is not None and chunk.get("status", "published") not in statuses:
                continue
            best.setdefault(chunk["slug"], (score, chunk_id))
        return [
            self._match(
                chunk_id,
                score,
                similarity[chunk_id] if chunk_id in similarity else self._dense_score(vector, chunk_id),
                tokens,
            )
            for score, chunk_id in list(best.values())[:top_k]
        ]

    def section(self, slug: str, anchor: str) -> dict[str, Any] | None:
        """The indexed section of article ``slug`` at ``anchor`` (its full text and metadata)."""
        return next((c for c in self.chunks.values() if c["slug"] == slug and c["anchor"] == anchor), None)

    def _match(self, chunk_id: int, score: float, similarity: float, tokens: list[str]) -> ArticleHit:
        c = self.chunks[chunk_id]
        language = c.get("language") or "en"
        return ArticleHit(
            slug=c["slug"],
            title=c["title"],
            language=language,
            revision=c["revision"],
            score=round(float(score), 6),
            similarity=round(float(similarity), 4),
            heading=c["heading"],
            heading_path=list(c["heading_path"]),
            anchor=c["anchor"],
            snippet=marked_snippet(c["text"], tokens, language),
            url=f"/v1/articles/{c['slug']}#{c['anchor']}",
        )


def article_hits(
    knowledge: KnowledgeSearch | None,
    vector: np.ndarray,
    text: str,
    top_k: int,
    *,
    statuses: tuple[str, ...] | None = ("published",),
    method: str = "hybrid",
    language: str | None = None,
) -> list[ArticleHit]:
    """The best articles for a text by hybrid search (published ones unless ``statuses`` says otherwise);
    ``language`` (detected when not given) chooses the query's stemming for BM25."""
    if knowledge is None:
        return []
    language = language or detect_language(text, default="en")
    return knowledge.search(vector, text, top_k=top_k, statuses=statuses, method=method, language=language)
