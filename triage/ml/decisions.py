"""Which label a classifier commits to: the most probable one, or a balanced choice that keeps rare labels
reachable.

A calibrated probability reflects how often each label occurs, so a queue with three tickets a year is
almost never the most probable label, even when the ticket reads like its three. "Balanced" decisions
divide the probabilities by the label's training frequency raised to an exponent ``a`` (0 is "most
probable", 1 is a fully balanced choice) and commit to the largest. The exponent is chosen on the
classifier's out-of-fold probabilities to maximise macro-F1, so each deployment's label distribution
sets it. The probability shown stays the calibrated probability of the label chosen; the abstention
threshold for the target precision is chosen for the decision rule in use.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from sklearn.metrics import f1_score

from triage.ml.conformal import threshold_for_precision

__all__ = ("DECISIONS", "balance_exponent", "decide", "decision_abstention", "fit_decisions")

DECISIONS = ("most_probable", "balanced")
EXPONENTS = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))


def decide(proba: np.ndarray, log_prior: np.ndarray, exponent: float) -> np.ndarray:
    """The committed label index per row: ``argmax log p - exponent * log prior``."""
    proba = np.asarray(proba, dtype=np.float64)
    if exponent == 0.0:
        return proba.argmax(axis=1)
    return (np.log(np.clip(proba, 1e-12, 1.0)) - exponent * log_prior).argmax(axis=1)


def balance_exponent(proba_oof: np.ndarray, y_idx: np.ndarray, log_prior: np.ndarray) -> float:
    """The exponent whose decisions have the best out-of-fold macro-F1 over the known labels (the
    smallest among ties, so "balanced" moves away from "most probable" only as far as it gains)."""
    known = y_idx >= 0
    labels = np.arange(proba_oof.shape[1])
    best, best_f1 = 0.0, -1.0
    for exponent in EXPONENTS:
        chosen = decide(proba_oof[known], log_prior, float(exponent))
        f1 = f1_score(y_idx[known], chosen, labels=labels, average="macro", zero_division=0)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(exponent), f1
    return best


def decision_abstention(
    proba_oof: np.ndarray, y_idx: np.ndarray, log_prior: np.ndarray, exponent: float, target_precision: float
) -> dict:
    """The abstention threshold (on the chosen label's probability) that meets ``target_precision`` on the
    out-of-fold rows under this decision rule; rows of labels too rare to predict count as wrong."""
    chosen = decide(proba_oof, log_prior, exponent)
    confidence = proba_oof[np.arange(len(chosen)), chosen]
    return asdict(threshold_for_precision(confidence, chosen == y_idx, target_precision))


def fit_decisions(proba_oof: np.ndarray, y_idx: np.ndarray, target_precision: float) -> tuple[np.ndarray, dict]:
    """The log label frequencies of the known rows, and each decision rule's exponent and abstention
    threshold, from out-of-fold probabilities (``y_idx`` -1 for rows of labels too rare to predict)."""
    known = y_idx >= 0
    log_prior = np.log(np.maximum(np.bincount(y_idx[known], minlength=proba_oof.shape[1]), 1) / known.sum())
    exponents = {"most_probable": 0.0, "balanced": balance_exponent(proba_oof, y_idx, log_prior)}
    return log_prior, {
        kind: {"exponent": a, "abstention": decision_abstention(proba_oof, y_idx, log_prior, a, target_precision)}
        for kind, a in exponents.items()
    }
