""" "Nothing fits": the probability that no article the portal would show answers a draft.

How close the best article is says little on its own: a question about a topic the KB lacks often lands
close to an article on a neighbouring topic. What separates the two is what happened before: earlier
drafts like this one either found their answer in an article that is shown again now, or nothing
helped them. The model reads four features per draft -- the best article's cosine similarity, its lead
over the second, and, among the most similar earlier drafts with a known outcome (similarity
weighted), the share that nothing helped and the share that an article shown now helped -- and a
logistic regression fitted on those earlier outcomes turns them into a calibrated probability.

Outcomes come from the portal (a ``helpful`` event names the article that helped; ``not_helpful`` or
``ticket_filed`` without one means nothing shown helped) or, for measurements, from a labelled file.
With too few outcomes there is no model and the portal falls back to its similarity floor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted
from sqlalchemy.orm import Session

from kb.outcomes import decided_drafts
from triage.knowledge.retrieval import ArticleHit, KnowledgeSearch
from triage.text.language import detect_language
from triage.text.texts import ticket_text

__all__ = (
    "SHOWN",
    "NothingFitsClassifier",
    "NothingFitsModel",
    "OutcomeMemory",
    "answer_features",
    "fit_nothing_fits",
    "portal_outcomes",
)

SHOWN = 3  # the articles a customer looks at: an outcome counts as helped when its article is among them
FEATURES = ("best_similarity", "lead_over_second", "neighbours_nothing_helped", "neighbours_helped_by_shown")


class OutcomeMemory:
    """Earlier drafts (their embeddings) and the article that helped each, or ``None`` when nothing did."""

    def __init__(self, vectors: np.ndarray, helped: Sequence[str | None]) -> None:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(vectors) != len(helped):
            raise ValueError(f"{len(vectors)} vectors for {len(helped)} outcomes")
        self.helped = list(helped)
        self._index = faiss.IndexFlatIP(vectors.shape[1])
        self._index.add(vectors)

    def __len__(self) -> int:
        return len(self.helped)

    def vectors(self) -> np.ndarray:
        """The drafts' embeddings, in the order of ``helped``."""
        return self._index.reconstruct_n(0, self._index.ntotal)

    def evidence(
        self,
        vectors: np.ndarray,
        shown: Sequence[Sequence[str]],
        *,
        n_neighbors: int,
        prior_weight: float,
        exclude_self: bool = False,
    ) -> np.ndarray:
        """Per query: the similarity-weighted share of its nearest earlier drafts that nothing helped, and
        the share helped by one of the articles in ``shown`` for it.

        ``prior_weight`` is added to the weights' sum, so a query with few or distant neighbours gets
        small shares rather than confident ones. ``exclude_self`` leaves each query out of its own
        neighbours when the queries are the memory itself (fitting).
        """
        queries = np.ascontiguousarray(vectors, dtype=np.float32)
        k = min(n_neighbors + int(exclude_self), len(self))
        sims, ids = self._index.search(queries, k)
        out = np.zeros((len(queries), 2))
        for row, (scores, neighbours) in enumerate(zip(sims, ids, strict=True)):
            pairs = [
                (s, i) for s, i in zip(scores, neighbours, strict=True) if i >= 0 and not (exclude_self and i == row)
            ]
            pairs = pairs[:n_neighbors]
            weights = np.array([max(float(s), 0.0) for s, _ in pairs])
            helped = [self.helped[i] for _, i in pairs]
            nothing = np.array([h is None for h in helped], dtype=float)
            same = np.array([h is not None and h in shown[row] for h in helped], dtype=float)
            total = weights.sum() + prior_weight
            out[row] = (weights @ nothing / total, weights @ same / total) if pairs else (0.0, 0.0)
        return out


def answer_features(hits: Sequence[Sequence[ArticleHit]], evidence: np.ndarray) -> np.ndarray:
    """The model's input rows (see :data:`FEATURES`) for search results and their outcome evidence."""
    best = np.array([h[0].similarity if h else 0.0 for h in hits])
    second = np.array([h[1].similarity if len(h) > 1 else 0.0 for h in hits])
    return np.column_stack([best, best - second, evidence]) if len(hits) else np.zeros((0, len(FEATURES)))


class NothingFitsClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression from :func:`answer_features` rows to "nothing shown would help" (class 1)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> NothingFitsClassifier:
        """Fit on earlier outcomes; ``y`` is 1 where nothing shown helped."""
        y = np.asarray(y, dtype=int)
        model = LogisticRegression(C=self.C, max_iter=1000)
        self.model_ = model.fit(np.asarray(X, dtype=float), y, sample_weight=sample_weight)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Columns: P(something shown helps), P(nothing fits)."""
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(np.asarray(X, dtype=float))


@dataclass(frozen=True)
class NothingFitsModel:
    """A fitted classifier with the outcome memory its neighbour features read."""

    memory: OutcomeMemory
    classifier: NothingFitsClassifier
    n_neighbors: int
    prior_weight: float
    source = "outcomes"

    def threshold(self, max_probability: float) -> float:
        """The probability at which nothing is shown: the deployment's setting."""
        return max_probability

    def probabilities(self, vectors: np.ndarray, hits: Sequence[Sequence[ArticleHit]]) -> np.ndarray:
        """P(nothing fits) per draft, given its embedding and the articles search found for it."""
        shown = [[h.slug for h in row[:SHOWN]] for row in hits]
        evidence = self.memory.evidence(vectors, shown, n_neighbors=self.n_neighbors, prior_weight=self.prior_weight)
        return self.classifier.predict_proba(answer_features(hits, evidence))[:, 1]

    def describe(self) -> dict[str, object]:
        """What the model was fitted on, for responses and reports."""
        coefficients = self.classifier.model_.coef_[0]
        return {
            "outcomes": len(self.memory),
            "nothing_helped": sum(h is None for h in self.memory.helped),
            "coefficients": {name: round(float(c), 4) for name, c in zip(FEATURES, coefficients, strict=True)},
        }


def fit_nothing_fits(
    search: KnowledgeSearch,
    texts: Sequence[str],
    vectors: np.ndarray,
    helped: Sequence[str | None],
    *,
    statuses: tuple[str, ...] | None = None,
    min_outcomes: int = 30,
    n_neighbors: int = 10,
    prior_weight: float = 1.0,
    C: float = 1.0,
) -> NothingFitsModel | None:
    """Fit on earlier drafts and their outcomes against the KB as it is now; ``None`` when there are
    fewer than ``min_outcomes`` or only one kind of outcome.

    A draft's target is 1 when the article that helped it is not among the :data:`SHOWN` articles
    search finds for it now (or nothing helped): then showing articles would not have helped.
    """
    if len(texts) < min_outcomes:
        return None
    hits = [
        search.search(v, t, top_k=SHOWN, statuses=statuses, language=detect_language(t, default="en"))
        for v, t in zip(vectors, texts, strict=True)
    ]
    shown = [[h.slug for h in row] for row in hits]
    target = np.array([h is None or h not in s for h, s in zip(helped, shown, strict=True)], dtype=int)
    if target.min() == target.max():
        return None
    memory = OutcomeMemory(vectors, helped)
    evidence = memory.evidence(vectors, shown, n_neighbors=n_neighbors, prior_weight=prior_weight, exclude_self=True)
    classifier = NothingFitsClassifier(C=C).fit(answer_features(hits, evidence), target)
    return NothingFitsModel(memory=memory, classifier=classifier, n_neighbors=n_neighbors, prior_weight=prior_weight)


def portal_outcomes(session: Session, *, limit: int) -> list[tuple[str, str | None]]:
    """The newest ``limit`` drafts that were shown articles and whose outcome is known, as (text, the
    article that helped or ``None``), oldest first (see :func:`kb.outcomes.decided_drafts`)."""
    return [(ticket_text(subject, body), helped) for subject, body, helped in decided_drafts(session, limit=limit)]
