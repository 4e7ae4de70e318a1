"""The work a bundle's classifiers have in common is done once, and gives the numbers each computed alone."""

from __future__ import annotations

import numpy as np
import skops.io as sio

from tests.unit.triage.test_classifiers import _data
from triage.bundles.loading import TRUSTED_TYPES
from triage.ml.classifiers import TriageClassifier
from triage.ml.shared_inputs import SharedInputs, share_fitted, tfidf_features


def test_tfidf_features_equal_scikit_learns_transform():
    X, y = _data()
    clf = TriageClassifier(min_examples=10).fit(X, y)
    texts = ["vpn gateway down again", "", "rare toner", "§§ unseen words only", "invoice invoice invoice refund"]
    ours = tfidf_features(clf.vectorizer_, texts)
    theirs = clf.vectorizer_.transform(texts)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=0, atol=1e-12)


def test_fields_trained_on_the_same_tickets_share_their_featuriser_and_embeddings(tmp_path):
    X, y = _data()
    other_labels = np.where(y == "Billing", "Finance", "IT")  # a second field over the same tickets
    category = TriageClassifier(min_examples=10).fit(X, y)
    team = TriageClassifier(min_examples=10).fit(X, other_labels)
    subset = TriageClassifier(min_examples=10).fit(X[:80], y[:80])  # another field's tickets: left alone
    loaded = []
    for n, clf in enumerate((category, team, subset)):  # each loaded from its own file, as a bundle's are
        sio.dump(clf, tmp_path / f"{n}.skops")
        loaded.append(sio.load(tmp_path / f"{n}.skops", trusted=list(TRUSTED_TYPES)))
    X_new, _ = _data(seed=4)
    alone = [(clf.predict_proba(X_new), clf.novel(X_new)) for clf in loaded]

    assert share_fitted(loaded) == {"featurisers": 2, "training_embeddings": 2}
    assert loaded[0].vectorizer_ is loaded[1].vectorizer_ and loaded[0].train_vectors_ is loaded[1].train_vectors_
    assert loaded[2].vectorizer_ is not loaded[0].vectorizer_

    shared = SharedInputs(X_new)
    for clf, (proba, novel) in zip(loaded, alone, strict=True):
        np.testing.assert_allclose(clf.predict_proba(X_new, shared), proba, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(clf.novel(X_new, shared), novel)
    assert len(shared._features) == 2 and len(shared._similarities) == 2  # computed once per distinct object
