"""New kinds of tickets: how familiar a ticket is to the resolved tickets a classifier learned from.

A classifier's probabilities are shared out among the labels it knows, so a ticket about something the
history has never seen can still get a confident label. Familiarity is the mean cosine similarity of a
ticket to its ``k`` most similar training tickets. The threshold is the score (below) that only
``rate`` of the training tickets fall under, each measured against the others (leave one out): at that
operating point about ``rate`` of ordinary tickets are flagged, and a ticket under it is "a new kind of
ticket" and abstains, whatever its probabilities say.

Familiarity alone misses a ticket that sits between two known kinds, close to tickets of both and
confidently of neither. The score that decides (:func:`new_kind_score`) therefore adds the classifier's
doubt: familiarity plus :data:`DOUBT_WEIGHT` times the log of the top calibrated probability (for the
threshold, a training ticket's out-of-fold one). With 10 of banking77's intents held out of training
(``helpdesk evaluate --open-set-unknown 10``), it ranked their test rows above the known ones' with
AUROC 0.938, against 0.915 for familiarity alone; on three other draws of held-out intents, weights
from 0.2 to 0.5 gave the same within 0.004.
"""

from __future__ import annotations

import numpy as np

__all__ = ("DOUBT_WEIGHT", "familiarity", "familiarity_of", "new_kind_score", "novelty_threshold")

DOUBT_WEIGHT = 0.25  # how much the classifier's doubt (log top probability) adds to unfamiliarity


def familiarity(
    vectors: np.ndarray, train_vectors: np.ndarray, k: int = 3, *, skip: np.ndarray | None = None, chunk: int = 1024
) -> np.ndarray:
    """Per row of ``vectors``: the mean cosine similarity of its ``k`` most similar ``train_vectors``.
    ``skip[i]`` is a training row to leave out for row ``i`` (itself, when the rows are training rows)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    train_vectors = np.asarray(train_vectors, dtype=np.float32)
    k = min(k, len(train_vectors) - (skip is not None))
    out = np.zeros(len(vectors))
    if k <= 0:
        return out
    for start in range(0, len(vectors), chunk):
        sims = vectors[start : start + chunk] @ train_vectors.T
        if skip is not None:
            sims[np.arange(len(sims)), skip[start : start + chunk]] = -np.inf
        out[start : start + chunk] = familiarity_of(sims, k)
    return out


def familiarity_of(sims: np.ndarray, k: int = 3) -> np.ndarray:
    """:func:`familiarity` from the similarities of each row to every training row (rows by columns)."""
    k = min(k, sims.shape[1])
    if k <= 0:
        return np.zeros(len(sims))
    return np.partition(-sims, k - 1, axis=1)[:, :k].mean(axis=1) * -1


def new_kind_score(familiar: np.ndarray, top_probability: np.ndarray | None, weight: float) -> np.ndarray:
    """How ordinary each ticket looks (lower: more likely a new kind): its :func:`familiarity` plus
    ``weight`` times the log of its top calibrated probability (familiarity alone when ``weight`` is 0)."""
    if not weight or top_probability is None:
        return np.asarray(familiar, dtype=float)
    return familiar + weight * np.log(np.clip(top_probability, 1e-6, 1.0))


def novelty_threshold(
    train_vectors: np.ndarray,
    rate: float,
    k: int = 3,
    *,
    top_probability: np.ndarray | None = None,
    weight: float = 0.0,
    sample: int = 5000,
    seed: int = 0,
) -> float:
    """The :func:`new_kind_score` below which only ``rate`` of the training rows fall (familiarity of each
    to the others, ``top_probability`` out of fold; on at most ``sample`` rows, so the cost stays linear
    in the history). ``-inf`` when ``rate`` is 0."""
    if rate <= 0 or len(train_vectors) <= k:
        return float("-inf")
    rows = np.arange(len(train_vectors))
    if len(rows) > sample:
        rows = np.sort(np.random.default_rng(seed).choice(rows, size=sample, replace=False))
    scores = familiarity(train_vectors[rows], train_vectors, k, skip=rows)
    top = None if top_probability is None else np.asarray(top_probability)[rows]
    return float(np.quantile(new_kind_score(scores, top, weight), rate))
