""" "Nothing fits" from day one: calibrated on the KB itself, before the portal has recorded any outcome.

A fresh deployment knows no earlier drafts, so the outcome model of :mod:`triage.knowledge.nothing_fits`
cannot be fitted yet. The KB can play both parts instead. Its articles are split into folds; for each
fold, the pseudo-queries of that fold's articles (:func:`pseudo_query`: a block's question, or a short
block) are asked against the KB *without* those articles (they play the drafts that no article
answers), and one pseudo-query of each other section is asked against the KB without its block (a draft
that its article answers, when search still ranks that article among the
:data:`~triage.knowledge.nothing_fits.SHOWN` first). Pseudo-queries with their letters shuffled play
nonsense, which fits nothing however close MiniLM puts it. A logistic regression on what search
returned (:data:`DAY_ONE_FEATURES`) turns a draft's results into a probability that nothing shown would
help. Real outcomes take over once enough are recorded (see :mod:`triage.knowledge.kb_index`).

How many drafts find no article is unknown before outcomes exist. The pseudo-queries are weighted so
that ``unanswerable_share`` of them (by weight) play the unanswerable part; the probability reads as
"nothing fits" under that prior.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from triage.knowledge.nothing_fits import SHOWN, NothingFitsClassifier
from triage.knowledge.retrieval import PASSAGES_PER_SECTION, ArticleHit, KnowledgeSearch, section_blocks

__all__ = ("DAY_ONE_FEATURES", "DAY_ONE_VERSION", "KbNothingFitsModel", "fit_from_kb", "hit_features")

DAY_ONE_VERSION = "1"  # bump when pseudo-queries, features or fitting change: stored models are refitted
DAY_ONE_FEATURES = ("best_similarity", "similarity_lead", "best_score", "score_lead", "lexical")


def hit_features(hits: Sequence[Sequence[ArticleHit]]) -> np.ndarray:
    """Per draft, from its search results: :data:`DAY_ONE_FEATURES`."""
    rows = []
    for row in hits:
        sims = [h.similarity for h in row[:2]] + [0.0, 0.0]
        scores = [h.score for h in row[:2]] + [0.0, 0.0]
        lexical = max((h.score - h.similarity for h in row[:SHOWN]), default=0.0)
        rows.append([sims[0], sims[0] - sims[1], scores[0], scores[0] - scores[1], lexical])
    return np.array(rows, dtype=float).reshape(-1, len(DAY_ONE_FEATURES))


@dataclass(frozen=True)
class KbNothingFitsModel:
    """A classifier fitted on the KB's own pseudo-queries (no outcome memory)."""

    classifier: NothingFitsClassifier
    queries: int
    unanswerable: int
    unanswerable_share: float
    cutoff: float  # nothing is shown when the probability reaches this
    source = "kb"

    def threshold(self, max_probability: float) -> float:
        """The probability at which nothing is shown: the cut-off chosen at fitting (the deployment's
        setting is for the outcome model, whose probabilities are calibrated on real drafts)."""
        return self.cutoff

    def probabilities(self, vectors: np.ndarray, hits: Sequence[Sequence[ArticleHit]]) -> np.ndarray:
        """P(nothing fits) per draft, from the articles search found for it (``vectors`` is unused)."""
        return self.classifier.predict_proba(hit_features(hits))[:, 1]

    def to_dict(self) -> dict[str, Any]:
        """The fitted model as plain JSON values (see :meth:`from_dict`)."""
        model = self.classifier.model_
        return {
            "coef": model.coef_[0].tolist(),
            "intercept": float(model.intercept_[0]),
            "queries": self.queries,
            "unanswerable": self.unanswerable,
            "unanswerable_share": self.unanswerable_share,
            "cutoff": self.cutoff,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KbNothingFitsModel:
        """The model :meth:`to_dict` wrote (ValueError when it is not one)."""
        from sklearn.linear_model import LogisticRegression

        coef = np.array([data["coef"]], dtype=float)
        if coef.shape != (1, len(DAY_ONE_FEATURES)):
            raise ValueError(f"expected {len(DAY_ONE_FEATURES)} coefficients, got {coef.shape[1]}")
        classifier = NothingFitsClassifier()
        classifier.model_ = LogisticRegression()
        classifier.model_.coef_, classifier.model_.intercept_ = coef, np.array([float(data["intercept"])])
        classifier.model_.classes_ = classifier.classes_ = np.array([0, 1])
        return cls(
            classifier,
            int(data["queries"]),
            int(data["unanswerable"]),
            float(data["unanswerable_share"]),
            float(data["cutoff"]),
        )

    def describe(self) -> dict[str, object]:
        """What the model was fitted on, for responses and reports."""
        coefficients = self.classifier.model_.coef_[0]
        return {
            "source": "kb",
            "pseudo_queries": self.queries,
            "unanswerable": self.unanswerable,
            "unanswerable_share": self.unanswerable_share,
            "threshold": round(self.cutoff, 4),
            "coefficients": {n: round(float(c), 4) for n, c in zip(DAY_ONE_FEATURES, coefficients, strict=True)},
        }


@dataclass(frozen=True)
class _Query:
    text: str
    language: str
    article: str | None  # the article that answers it, None when its article is held out


def fit_from_kb(
    search: KnowledgeSearch,
    embed: Callable[[list[str]], np.ndarray],
    *,
    statuses: tuple[str, ...] | None = None,
    folds: int = 5,
    min_articles: int = 10,
    max_queries: int = 1500,
    unanswerable_share: float = 0.3,
    keep: float = 0.97,
    scrambled: int = 200,
    seed: int = 0,
) -> KbNothingFitsModel | None:
    """Fit on pseudo-queries from the KB's own passages (see the module docstring); ``None`` with fewer
    than ``min_articles`` articles (in ``statuses``) or when every pseudo-query came out the same way.

    The model's threshold is the lowest probability that still shows their article to ``keep`` of the
    pseudo-queries that search answers (and never below 0.5): before outcomes exist, hiding a right
    answer costs a ticket, showing an article that does not fit costs a glance.

    ``embed`` encodes the pseudo-queries (their passages are indexed with the heading path in front, which
    would give the answer away). At most ``max_queries`` are asked, spread over the folds.
    """
    sections = [c for c in search.chunks.values() if statuses is None or c.get("status", "published") in statuses]
    articles = sorted({c["slug"] for c in sections})
    if len(articles) < min_articles:
        return None
    rng = np.random.default_rng(seed)
    fold_of = {slug: n % folds for n, slug in enumerate(rng.permutation(articles).tolist())}
    rows: list[np.ndarray] = []
    target: list[bool] = []
    asked: list[_Query] = []
    for fold in range(folds):
        fold_search, queries = _fold(search, sections, fold_of, fold)
        if len(queries) > max_queries // folds:
            queries = [queries[i] for i in sorted(rng.choice(len(queries), max_queries // folds, replace=False))]
        if queries and fold_search.chunks:
            asked += queries
            rows.append(_ask(fold_search, queries, embed, target))
    if asked and scrambled:  # nonsense (a draft's letters shuffled within words) fits nothing, however close
        picked = sorted(rng.choice(len(asked), min(scrambled, len(asked)), replace=False))
        rows.append(
            _ask(
                search, [_Query(_scramble(asked[i].text, rng), asked[i].language, None) for i in picked], embed, target
            )
        )
    y = np.array(target, dtype=int)
    if not len(y) or y.min() == y.max():
        return None
    share = {1: unanswerable_share / y.mean(), 0: (1 - unanswerable_share) / (1 - y.mean())}
    weights = np.array([share[t] for t in y])
    X = np.vstack(rows)
    classifier = NothingFitsClassifier().fit(X, y, sample_weight=weights)
    answered = np.sort(classifier.predict_proba(X[y == 0])[:, 1])
    threshold = float(answered[min(int(np.ceil(keep * len(answered))), len(answered) - 1)]) if len(answered) else 1.0
    return KbNothingFitsModel(
        classifier=classifier,
        queries=len(y),
        unanswerable=int(y.sum()),
        unanswerable_share=unanswerable_share,
        cutoff=max(threshold, 0.5),
    )


QUESTION = re.compile(r"[^.!?\n]*\?")
SHORT_BLOCK = 160  # a block this short reads like something a customer would type (an FAQ's example question)


def pseudo_query(block: str) -> str | None:
    """What a customer might have typed that this block answers: its first question, else the block
    itself when it is short; ``None`` for a long block without a question (an explanation, not a query)."""
    question = QUESTION.search(block)
    if question and len(question.group().strip()) > 10:
        return question.group().strip()
    return block if len(block) <= SHORT_BLOCK else None


def _ask(
    search: KnowledgeSearch, queries: list[_Query], embed: Callable[[list[str]], np.ndarray], target: list[bool]
) -> np.ndarray:
    """Search for every query: their feature rows; whether nothing shown answers each is added to ``target``."""
    vectors = embed([q.text for q in queries])
    hits = [search.search(v, q.text, top_k=SHOWN, language=q.language) for v, q in zip(vectors, queries, strict=True)]
    target += [q.article not in [h.slug for h in row] for q, row in zip(queries, hits, strict=True)]
    return hit_features(hits)


def _scramble(text: str, rng: np.random.Generator) -> str:
    """``text`` with the letters of every word shuffled: the same letters and lengths, no meaning."""
    return re.sub(r"\w+", lambda m: "".join(rng.permutation(list(m.group()))), text)


def _fold(
    search: KnowledgeSearch, sections: list[dict], fold_of: dict[str, int], fold: int
) -> tuple[KnowledgeSearch, list[_Query]]:
    """The KB without this fold's articles and without one passage of every other section of two or more,
    and the pseudo-queries: every passage of the fold's articles, and each passage taken out."""
    chunks, ids, vectors, queries = [], [], [], []
    vector = search.dense.reconstruct
    for chunk in sections:
        blocks = section_blocks(chunk)
        base = chunk["id"] * PASSAGES_PER_SECTION
        language = chunk.get("language") or "en"
        asked = [(n, q) for n, q in enumerate(map(pseudo_query, blocks)) if q]
        if fold_of[chunk["slug"]] == fold:
            queries += [_Query(q, language, None) for _, q in asked]
            continue
        kept = list(range(len(blocks)))
        whole = vector(base)
        if len(blocks) >= 2 and asked:
            held, query = asked[fold % len(asked)]
            kept.remove(held)
            queries.append(_Query(query, language, chunk["slug"]))
            mean = np.mean([vector(base + 1 + n) for n in kept], axis=0)
            whole = mean / max(float(np.linalg.norm(mean)), 1e-9)  # the section's embedding without that passage
            chunk = {**chunk, "text": "\n".join(blocks[n] for n in kept)}
        chunks.append(chunk)
        ids += [base + n for n in range(len(kept) + 2)]
        vectors += [whole, *[vector(base + 1 + n) for n in kept], vector(base + len(blocks) + 1)]
    fold_search = KnowledgeSearch.build(
        chunks,
        ids,
        np.array(vectors, dtype=np.float32).reshape(len(ids), search.dense.dimension),
        lexical_weight=search.lexical_weight,
        cross_language_lexical=search.cross_language_lexical,
    )
    return fold_search, queries
