"""The nearest-neighbour view of a triage classifier: each class's softmax-weighted share of the ``k``
training rows most similar to a query."""

from __future__ import annotations

import numpy as np

__all__ = ("knn_vote", "vote_from_similarities")


def knn_vote(
    train_vectors: np.ndarray,
    train_y: np.ndarray,
    query: np.ndarray,
    n_classes: int,
    k: int,
    *,
    sharpness: float = 20.0,
    chunk: int = 2048,
) -> np.ndarray:
    """Per class, the softmax-weighted share of the ``k`` most similar training rows (rows sum to 1)."""
    votes = np.zeros((len(query), n_classes))
    for start in range(0, len(query), chunk):
        sims = query[start : start + chunk] @ train_vectors.T
        votes[start : start + chunk] = vote_from_similarities(sims, train_y, n_classes, k, sharpness=sharpness)
    return votes


def vote_from_similarities(
    sims: np.ndarray, train_y: np.ndarray, n_classes: int, k: int, *, sharpness: float = 20.0
) -> np.ndarray:
    """:func:`knn_vote` from the query rows' similarities to every training row (``sims[i, j]``)."""
    k = min(k, sims.shape[1])
    if k <= 0:
        return np.full((len(sims), n_classes), 1.0 / n_classes)
    votes = np.zeros((len(sims), n_classes))
    top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    top_sims = np.take_along_axis(sims, top, axis=1)
    weights = np.exp(sharpness * (top_sims - top_sims.max(axis=1, keepdims=True)))
    weights /= weights.sum(axis=1, keepdims=True)
    rows = np.repeat(np.arange(len(top)), k)
    np.add.at(votes, (rows, train_y[top].ravel()), weights.ravel())
    return votes
