"""Calibration: temperature scaling fitted on held-out scores, and the expected calibration error."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import softmax

__all__ = ("apply_temperature", "expected_calibration_error", "fit_confidence_temperature")


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities ``softmax(logits / T)``, rows summing to one."""
    return softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)


def fit_confidence_temperature(
    logits: np.ndarray, y: np.ndarray, *, min_temperature: float = 0.25, max_temperature: float = 50.0
) -> float:
    """The temperature whose top-label confidence best predicts being right on held-out rows.

    The lower bound matters when the held-out rows are all classified right: the loss then keeps
    improving as the temperature falls to zero, which would make every answer certain, including
    answers about labels the model has never seen.

    It minimises the binary log-loss of ``max softmax(logits / T)`` against "the top label is ``y``",
    which is the number a user sees; rows whose label the model cannot name (``y < 0``) count as wrong,
    so the confidence also accounts for tickets that belong to labels too rare to predict.
    """
    logits = np.asarray(logits, dtype=np.float64)
    correct = np.argmax(logits, axis=1) == np.asarray(y)

    def loss(log_t: float) -> float:
        top = np.clip(softmax(logits / np.exp(log_t), axis=1).max(axis=1), 1e-9, 1 - 1e-9)
        return float(-np.mean(np.where(correct, np.log(top), np.log1p(-top))))

    result = minimize_scalar(loss, bounds=(np.log(min_temperature), np.log(max_temperature)), method="bounded")
    return float(np.exp(result.x))


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE of top-label confidences: the bin-weighted gap between confidence and accuracy.

    Args:
        confidence: the probability given to the predicted label, per row.
        correct: whether the predicted label was right, per row.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)
