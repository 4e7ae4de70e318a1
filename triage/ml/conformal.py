"""Split-conformal prediction sets and precision-targeted abstention thresholds."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ("AbstentionThreshold", "conformal_quantile", "prediction_sets", "threshold_for_precision")


def conformal_quantile(proba: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """The split-conformal threshold ``q`` on held-out rows for the score ``1 - p(true label)``.

    A set ``{label: p(label) >= 1 - q}`` then contains the true label with probability at least
    ``coverage`` on exchangeable data. A row whose label the model cannot name (``y < 0``) scores 1:
    no set covers it, so the quantile rises to keep the coverage over all rows.
    """
    if not 0 < coverage < 1:
        raise ValueError("coverage must be between 0 and 1")
    y = np.asarray(y)
    scores = np.ones(len(y))
    known = y >= 0
    scores[known] = 1.0 - np.asarray(proba)[np.flatnonzero(known), y[known]]
    rank = math.ceil((len(scores) + 1) * coverage)  # the rank-th smallest score, 1-based
    if rank > len(scores):
        return 1.0
    return float(np.sort(scores)[rank - 1])


def prediction_sets(proba: np.ndarray, quantile: float) -> list[np.ndarray]:
    """For each row, the class indices in its conformal set, most probable first.

    A set may be empty: no label is probable enough at the chosen coverage. That is what keeps the
    coverage at its target (not above it) when the classifier is right more often than the target.
    """
    proba = np.asarray(proba)
    sets = []
    for row in proba:
        members = np.flatnonzero(row >= 1.0 - quantile)
        sets.append(members[np.argsort(row[members])[::-1]])
    return sets


@dataclass(frozen=True)
class AbstentionThreshold:
    """The lowest confidence that still meets ``target_precision`` on held-out rows, and what it gives."""

    target_precision: float
    threshold: float
    precision: float | None
    coverage: float
    reachable: bool


def threshold_for_precision(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> AbstentionThreshold:
    """Choose the confidence threshold that answers as many held-out rows as possible at ``target_precision``.

    Rows are ranked by confidence; among all prefixes whose precision meets the target, the longest
    wins. When none does, the threshold is above 1 (always abstain) and ``reachable`` is false.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    order = np.argsort(-confidence, kind="stable")
    hits = np.cumsum(correct[order])
    counts = np.arange(1, len(order) + 1)
    precision = hits / counts
    # a threshold can only cut between distinct confidences: keep the last row of each tie group
    last_of_tie = np.append(confidence[order][1:] != confidence[order][:-1], True)
    valid = np.flatnonzero((precision >= target_precision) & last_of_tie)
    if valid.size == 0:
        return AbstentionThreshold(target_precision, float("inf"), None, 0.0, False)
    m = int(valid[-1])
    return AbstentionThreshold(
        target_precision=target_precision,
        threshold=float(confidence[order][m]),
        precision=float(precision[m]),
        coverage=float(counts[m] / len(order)),
        reachable=True,
    )
