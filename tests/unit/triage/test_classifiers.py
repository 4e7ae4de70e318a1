from __future__ import annotations

import numpy as np
from sklearn.base import clone

from triage.classifiers import EmbeddingClassifier


def _data():
    rng = np.random.default_rng(1)
    centers = {"Network": 0, "Billing": 1, "Printing": 2}
    X, y = [], []
    for label, axis in centers.items():
        for _ in range(15):
            v = rng.normal(scale=0.1, size=6)
            v[axis] += 1
            X.append(v)
            y.append(label)
    X.append(np.eye(6)[5])
    y.append("Rare")
    return np.array(X), y


def test_follows_sklearn_conventions():
    clf = EmbeddingClassifier(C=2.0, min_examples=3)
    assert clf.get_params() == {"C": 2.0, "min_examples": 3, "class_weight": "balanced"}
    assert clone(clf).set_params(C=1.0).C == 1.0
    assert not hasattr(clf, "classes_")
    assert clf.fit(*_data()) is clf


def test_rare_labels_are_never_predicted():
    X, y = _data()
    clf = EmbeddingClassifier(min_examples=2).fit(X, y)
    assert clf.insufficient_labels_ == ["Rare"]
    assert set(clf.classes_) == {"Network", "Billing", "Printing"}
    assert clf.predict(np.eye(6)[5:6])[0] != "Rare"
    proba = clf.predict_proba(X[:3])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.predict(X[:1])[0] == "Network"
