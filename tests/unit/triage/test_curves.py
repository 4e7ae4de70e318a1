from __future__ import annotations

import numpy as np

from triage.analytics.curves import calibration_bins, precision_coverage


def test_calibration_bins_average_confidence_and_accuracy_per_bin():
    confidence = np.array([0.05, 0.15, 0.92, 0.95, 0.97, 0.99])
    correct = np.array([0, 0, 1, 1, 0, 1], dtype=float)
    bins = calibration_bins(confidence, correct, bins=10)
    assert [b["rows"] for b in bins] == [1, 1, 4]  # empty bins are left out
    assert bins[-1] == {"confidence": 0.9575, "accuracy": 0.75, "rows": 4}


def test_precision_coverage_rises_as_unsure_answers_are_dropped():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(size=500)
    correct = (rng.uniform(size=500) < confidence).astype(float)  # calibrated: sure answers are right more
    curve = precision_coverage(confidence, correct, points=20)
    assert len(curve) == 20 and curve[-1]["coverage"] == 1.0
    assert curve[-1]["precision"] == round(correct.mean(), 4)
    assert curve[0]["precision"] >= curve[-1]["precision"] and curve[0]["threshold"] >= curve[-1]["threshold"]
    assert precision_coverage(np.array([0.9, 0.8]), np.array([1.0, 0.0]), points=50) == [
        {"coverage": 0.5, "precision": 1.0, "threshold": 0.9},
        {"coverage": 1.0, "precision": 0.5, "threshold": 0.8},
    ]
