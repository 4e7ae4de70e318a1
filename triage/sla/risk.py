"""Breach risk: how long a ticket will take, from how long similar resolved tickets took.

The estimate is a weighted sample of resolution times (on the SLA clock: business time, pauses left
out): the nearest resolved tickets by text, weighted by similarity, mixed with the recent tickets of the
same priority (the prior, so a ticket with few or far neighbours still gets a sane estimate). Its
quantiles give the expected time and an 80% interval; the share of the sample past the resolution target,
among those still open at the ticket's elapsed time, is the probability of missing it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ("NeighbourDurations", "ResolutionEstimate", "estimate_resolution")

QUANTILES = {"p10": 0.1, "p50": 0.5, "p90": 0.9}
_UNSEEN = 0.02  # weight on "longer than anything seen": a ticket past every sample is not sure to close


@dataclass(frozen=True)
class ResolutionEstimate:
    """A weighted sample of resolution times in seconds (weights sum to 1) and how many neighbours it used."""

    samples: tuple[tuple[float, float], ...]
    neighbours: int = 0

    def quantile(self, q: float) -> float | None:
        """The ``q`` quantile of the sample, or None for an empty one."""
        total = 0.0
        for value, weight in self.samples:
            total += weight
            if total >= q - 1e-12:
                return value
        return self.samples[-1][0] if self.samples else None

    def quantiles(self) -> dict[str, float | None]:
        """The 10th, 50th and 90th percentiles (the expected time and an 80% interval)."""
        return {name: self.quantile(q) for name, q in QUANTILES.items()}

    def miss_probability(self, target_seconds: float, elapsed_seconds: float = 0.0) -> float | None:
        """The probability of taking longer than ``target_seconds``, given it has been open
        ``elapsed_seconds`` (1 once the target has passed); None with no sample."""
        if not self.samples:
            return None
        if elapsed_seconds >= target_seconds:
            return 1.0
        alive = _UNSEEN + sum(w for v, w in self.samples if v > elapsed_seconds)
        late = _UNSEEN + sum(w for v, w in self.samples if v > target_seconds)
        return round(min(1.0, late / alive), 4)

    def to_dict(self) -> dict[str, Any]:
        """The sample as stored on the ticket's SLA row."""
        return {"samples": [[round(v, 1), round(w, 6)] for v, w in self.samples], "neighbours": self.neighbours}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ResolutionEstimate:
        data = data or {}
        return cls(tuple((float(v), float(w)) for v, w in data.get("samples", [])), int(data.get("neighbours", 0)))


def estimate_resolution(
    neighbours: Sequence[tuple[float, float]], prior: Sequence[float], prior_weight: float = 0.3, sharpness: float = 4.0
) -> ResolutionEstimate:
    """The estimate from ``neighbours`` (resolution seconds, similarity) and the ``prior`` sample (resolution
    seconds of tickets of the same priority), the prior carrying ``prior_weight`` of the mass (all of it
    with no neighbours). A neighbour's weight grows as its similarity to the power ``sharpness``."""
    pairs = [(float(v), max(float(s), 0.0) ** sharpness) for v, s in neighbours if v is not None and s > 0]
    near = sum(w for _, w in pairs)
    weights: list[tuple[float, float]] = []
    share = prior_weight if pairs and prior else (0.0 if pairs else 1.0)
    if near > 0:
        weights += [(v, (1 - share) * w / near) for v, w in pairs]
    if prior and share > 0:
        weights += [(float(v), share / len(prior)) for v in prior]
    return ResolutionEstimate(tuple(sorted(weights)), len(pairs))


class NeighbourDurations:
    """Resolution-time estimates from the nearest training tickets, scikit-learn style (for evaluation
    and notebooks; serving asks the bundle's ticket index for the neighbours instead).

    Args:
        n_neighbors: how many resolved tickets to look at.
        prior_weight: the share of the estimate that comes from the same priority's tickets.
        sharpness: a neighbour's weight is its cosine similarity to this power.
        prior_size: how many of a priority's most recent tickets form the prior.
    """

    def __init__(self, n_neighbors: int = 20, prior_weight: float = 0.3, sharpness: float = 4.0, prior_size: int = 500):
        self.n_neighbors = n_neighbors
        self.prior_weight = prior_weight
        self.sharpness = sharpness
        self.prior_size = prior_size

    def fit(self, X: np.ndarray, y: Sequence[float], groups: Sequence[str | None]) -> NeighbourDurations:
        """Remember the training tickets' unit vectors ``X``, resolution seconds ``y`` (oldest first) and
        priorities ``groups``."""
        X = np.asarray(X, dtype=np.float32)
        self.vectors_ = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        self.durations_ = np.asarray(y, dtype=np.float64)
        self.priors_: dict[str | None, list[float]] = {}
        for value, group in zip(self.durations_, groups, strict=True):
            self.priors_.setdefault(group, []).append(float(value))
        self.priors_ = {k: v[-self.prior_size :] for k, v in self.priors_.items()}
        return self

    def predict_estimates(self, X: np.ndarray, groups: Sequence[str | None]) -> list[ResolutionEstimate]:
        """One :class:`ResolutionEstimate` per row of ``X`` with its priority in ``groups``."""
        X = np.asarray(X, dtype=np.float32)
        X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        scores = X @ self.vectors_.T
        k = min(self.n_neighbors, scores.shape[1])
        out = []
        for row, group in zip(scores, groups, strict=True):
            top = np.argpartition(-row, k - 1)[:k] if k else []
            near = [(float(self.durations_[j]), float(row[j])) for j in top]
            out.append(estimate_resolution(near, self.priors_.get(group, []), self.prior_weight, self.sharpness))
        return out


def pinball(value: float, prediction: float, q: float) -> float:
    """The pinball (quantile) loss of ``prediction`` at quantile ``q`` for the true ``value``."""
    diff = value - prediction
    return max(q * diff, (q - 1) * diff)


def log_hours(seconds: float) -> float:
    """Seconds as log(1 + hours), to report losses that a few very long tickets do not swamp."""
    return math.log1p(max(seconds, 0.0) / 3600)
