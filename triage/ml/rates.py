"""Rates as the reports print them: rounded to four places, ``None`` when there is nothing to count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ("accuracy", "rate", "share")


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or ``None`` when ``whole`` is 0."""
    return round(part / whole, 4) if whole else None


def share(mask: np.ndarray) -> float | None:
    """The share of true values in a boolean mask, or ``None`` when it is empty."""
    return round(float(np.mean(mask)), 4) if len(mask) else None


def accuracy(true: Sequence[str], predicted: Sequence[str]) -> float | None:
    """The share of predictions equal to the true labels, or ``None`` when there are none."""
    return share(np.asarray(true, dtype=object) == np.asarray(predicted, dtype=object))
