"""Calibration and conformal code checked on data whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from triage.ml.calibration import apply_temperature, expected_calibration_error, fit_confidence_temperature
from triage.ml.conformal import conformal_quantile, prediction_sets, threshold_for_precision


def _sample(n: int, true_temperature: float, seed: int = 0):
    """Labels drawn from softmax(logits / T): the right temperature is known."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(n, 5))
    proba = apply_temperature(logits, true_temperature)
    y = np.array([rng.choice(5, p=p) for p in proba])
    return logits, y


def test_temperature_recovers_the_true_temperature():
    logits, y = _sample(20_000, true_temperature=2.5)
    assert fit_confidence_temperature(logits, y) == pytest.approx(2.5, rel=0.08)


def test_temperature_stays_bounded_when_held_out_rows_are_all_right():
    logits = np.array([[5.0, 0.0], [0.0, 5.0]] * 50)
    y = np.array([0, 1] * 50)
    assert fit_confidence_temperature(logits, y) == pytest.approx(0.25, rel=0.01)


def test_rows_with_labels_the_model_cannot_name_make_it_less_sure():
    logits, y = _sample(20_000, true_temperature=1.0)
    y_with_unknown = y.copy()
    y_with_unknown[::10] = -1  # one row in ten belongs to a label outside the model's set
    fitted = fit_confidence_temperature(logits, y_with_unknown)
    assert fitted > 1.1 * fit_confidence_temperature(logits, y)
    ece = {}
    for temperature in (1.0, fitted):
        proba = apply_temperature(logits, temperature)
        ece[temperature] = expected_calibration_error(proba.max(axis=1), proba.argmax(axis=1) == y_with_unknown)
    assert ece[fitted] < 0.6 * ece[1.0]  # a temperature cannot scale every confidence by 0.9, but gets close


def test_ece_is_near_zero_when_calibrated_and_large_when_not():
    logits, y = _sample(20_000, true_temperature=2.0)
    for temperature, check in ((2.0, lambda e: e < 0.02), (0.5, lambda e: e > 0.1)):
        proba = apply_temperature(logits, temperature)
        assert check(expected_calibration_error(proba.max(axis=1), proba.argmax(axis=1) == y))


def test_ece_known_value():
    confidence = np.full(10, 0.8)
    correct = np.array([True] * 6 + [False] * 4)  # 80% confident, 60% right
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.2)


def test_conformal_sets_reach_their_coverage_on_fresh_data():
    logits, y = _sample(4_000, true_temperature=1.0, seed=1)
    proba = apply_temperature(logits, 1.0)
    q = conformal_quantile(proba[:2_000], y[:2_000], coverage=0.9)
    sets = prediction_sets(proba[2_000:], q)
    covered = np.mean([label in s for label, s in zip(y[2_000:], sets, strict=True)])
    assert 0.88 <= covered <= 0.92


def test_conformal_quantile_known_value():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    y = np.array([0, 0, 1, 0])  # scores 0.1, 0.4, 0.3, 0.8
    assert conformal_quantile(proba, y, coverage=0.5) == pytest.approx(0.4)  # ceil(5 * 0.5) = 3rd smallest score
    assert [list(s) for s in prediction_sets(proba, 0.4)] == [[0], [0], [1], [1]]  # p >= 0.6
    assert [list(s) for s in prediction_sets(proba, 0.8)] == [[0], [0, 1], [1, 0], [1, 0]]  # p >= 0.2, best first


def test_rows_outside_the_label_set_are_never_covered():
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.5, 0.5]])
    y = np.array([0, 0, 1, -1])  # scores 0.1, 0.4, 0.3 and 1 for the row no set can cover
    assert conformal_quantile(proba, y, coverage=0.5) == pytest.approx(0.4)  # 3rd smallest of 0.1, 0.3, 0.4, 1
    assert conformal_quantile(proba, y, coverage=0.75) == pytest.approx(1.0)  # rank 4 of 4: only q = 1 covers


def test_sets_can_be_empty_so_coverage_stays_at_target():
    proba = np.array([[0.95, 0.05], [0.55, 0.45]])
    assert [list(s) for s in prediction_sets(proba, 0.1)] == [[0], []]


def test_precision_threshold_known_answer():
    confidence = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5])
    correct = np.array([1, 1, 1, 0, 1, 0, 0], dtype=bool)
    result = threshold_for_precision(confidence, correct, 0.8)
    assert (
        result.threshold == 0.7 and result.precision == pytest.approx(0.8) and result.coverage == pytest.approx(5 / 7)
    )
    unreachable = threshold_for_precision(confidence, ~correct, 0.9)
    assert not unreachable.reachable and unreachable.threshold == float("inf") and unreachable.coverage == 0


def test_precision_threshold_never_splits_ties():
    confidence = np.array([0.9, 0.8, 0.8])
    correct = np.array([1, 1, 0], dtype=bool)
    result = threshold_for_precision(confidence, correct, 0.9)
    assert result.threshold == 0.9 and result.coverage == pytest.approx(1 / 3)
