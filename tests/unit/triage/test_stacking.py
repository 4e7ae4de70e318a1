"""The shared-weight stacker, on data whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from triage.ml.stacking import SharedWeightStacker


def _views(n: int = 3_000, n_labels: int = 6, seed: int = 0):
    """View 0 carries the label (true logit weight 2), view 1 is noise, view 2 is view 0's shares."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, n_labels))
    proba = np.exp(2 * signal) / np.exp(2 * signal).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(n_labels, p=p) for p in proba])
    noise = rng.normal(size=(n, n_labels))
    return np.hstack([signal, noise]), y, proba


def test_learns_one_weight_per_view_and_recovers_it():
    X, y, _ = _views()
    stacker = SharedWeightStacker(n_views=2).fit(X, y)
    assert stacker.coef_[0] == pytest.approx(2.0, rel=0.1)
    assert abs(stacker.coef_[1]) < 0.15
    assert stacker.predict_proba(X).shape == (len(X), 6)
    np.testing.assert_allclose(stacker.predict_proba(X).sum(axis=1), 1.0)
    assert clone(stacker).get_params() == {"n_views": 2, "share_views": (), "share_floor": 0.01, "l2": 0.001}


def test_share_views_enter_as_logs():
    _, y, proba = _views()
    stacker = SharedWeightStacker(n_views=1, share_views=(0,), share_floor=1e-9).fit(proba, y)
    assert stacker.coef_[0] == pytest.approx(1.0, rel=0.1)  # log(proba) is the true logit


def test_weights_stay_finite_when_the_views_separate_the_rows():
    y = np.array([0, 1, 2] * 20)
    X = np.eye(3)[y] * 10
    stacker = SharedWeightStacker(n_views=1).fit(X, y)
    assert np.isfinite(stacker.coef_).all() and stacker.coef_[0] < 100
    assert (stacker.predict(X) == y).all()


def test_a_ragged_score_matrix_is_an_error():
    with pytest.raises(ValueError, match="multiple of n_views=3"):
        SharedWeightStacker(n_views=3).fit(np.zeros((4, 4)), np.array([0, 1, 0, 1]))
