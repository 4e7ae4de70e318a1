"""Plots for the analyst notebooks (matplotlib, imported only when a plot is drawn). Each draws on the
given axes, or on new ones, and returns the axes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from triage.analytics.curves import calibration_bins, precision_coverage

__all__ = ("plot_calibration", "plot_confusion", "plot_counts", "plot_precision_coverage")


def _axes(ax: Any, size: tuple[float, float] = (6, 4)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=size)[1]


def plot_counts(counts: Mapping[str, int], *, title: str = "", ax: Any = None) -> Any:
    """A horizontal bar per key (e.g. tickets per category), largest at the top."""
    ax = _axes(ax)
    items = sorted(counts.items(), key=lambda item: item[1])
    ax.barh([k for k, _ in items], [v for _, v in items])
    ax.set_title(title)
    return ax


def plot_confusion(true: np.ndarray, predicted: np.ndarray, *, top: int = 12, ax: Any = None) -> Any:
    """Confusion matrix over the ``top`` most frequent true labels (rows: true, columns: predicted)."""
    from collections import Counter

    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    labels = [label for label, _ in Counter(true.tolist()).most_common(top)]
    keep = np.isin(true, labels)
    matrix = confusion_matrix(true[keep], predicted[keep], labels=labels)
    ax = _axes(ax, (7, 6))
    ConfusionMatrixDisplay(matrix, display_labels=labels).plot(ax=ax, xticks_rotation=90, colorbar=False)
    return ax


def plot_calibration(confidence: np.ndarray, correct: np.ndarray, *, bins: int = 10, ax: Any = None) -> Any:
    """Reliability diagram: accuracy against mean confidence per confidence bin; the diagonal is perfect."""
    ax = _axes(ax, (5, 5))
    points = calibration_bins(np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float), bins)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.plot([p["confidence"] for p in points], [p["accuracy"] for p in points], marker="o")
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1), title="calibration")
    return ax


def plot_precision_coverage(confidence: np.ndarray, correct: np.ndarray, *, ax: Any = None) -> Any:
    """Precision of the answers kept against the share kept, as the confidence threshold rises."""
    ax = _axes(ax)
    confidence, correct = np.asarray(confidence, dtype=float), np.asarray(correct, dtype=float)
    curve = precision_coverage(confidence, correct, points=len(confidence))  # every threshold
    ax.plot([p["coverage"] for p in curve], [p["precision"] for p in curve])
    ax.set(xlabel="coverage (share answered)", ylabel="precision", ylim=(0, 1.02), title="precision vs coverage")
    return ax
