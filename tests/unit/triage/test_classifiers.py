from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.svm import LinearSVC, OneClassSVM

from triage.bundles.loading import TRUSTED_TYPES, load_classifier
from triage.ml.classifiers import TriageClassifier
from triage.ml.inputs import make_inputs, vectors_of
from triage.ml.novelty import familiarity, new_kind_score, recent_closeness
from triage.ml.voting import knn_vote

WORDS = {"Network": "vpn gateway wifi", "Billing": "invoice refund vat", "Printing": "toner printer jam"}


def _data(n_per_class: int = 30, seed: int = 1):
    """Three well-separated labels (in words and in embedding space) and one rare label."""
    rng = np.random.default_rng(seed)
    texts, vectors, labels = [], [], []
    for axis, (label, words) in enumerate(WORDS.items()):
        for i in range(n_per_class):
            v = rng.normal(scale=0.15, size=8)
            v[axis] += 1
            texts.append(f"{words.split()[i % 3]} problem number {i}")
            vectors.append(v / np.linalg.norm(v))
            labels.append(label)
    for i in range(3):
        v = np.eye(8)[7] + rng.normal(scale=0.05, size=8)
        texts.append(f"rare thing {i}")
        vectors.append(v / np.linalg.norm(v))
        labels.append("Rare")
    return make_inputs(texts, np.array(vectors, dtype=np.float32)), np.array(labels)


def test_follows_sklearn_conventions():
    clf = TriageClassifier(min_examples=5, n_neighbors=3)
    assert clf.get_params()["n_neighbors"] == 3
    assert clone(clf).set_params(meta_C=0.5).meta_C == 0.5
    assert not hasattr(clf, "classes_")
    X, y = _data()
    assert clf.fit(X, y) is clf
    assert clf.n_train_ == 90


def test_closed_label_set_and_confident_on_easy_data():
    X, y = _data()
    clf = TriageClassifier(min_examples=10).fit(X, y)
    assert clf.insufficient_labels_ == ["Rare"]
    assert list(clf.classes_) == ["Billing", "Network", "Printing"]
    proba, sets, abstain = clf.predict_sets(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert "Rare" not in set(clf.predict(X))
    known = y != "Rare"
    assert (clf.predict(X[known]) == y[known]).mean() > 0.95
    assert clf.abstention_["reachable"] and clf.abstention_["precision"] >= 0.9
    assert np.mean([len(s) for s in sets]) >= 0.8
    # on fresh rows from the same distribution the 90% sets cover most rows; the rare rows (3%) never
    X_new, y_new = _data(seed=2)
    _, new_sets, _ = clf.predict_sets(X_new)
    index = {label: i for i, label in enumerate(clf.classes_)}
    assert np.mean([index.get(label, -1) in s for label, s in zip(y_new, new_sets, strict=True)]) >= 0.8
    assert not abstain[known].all()


def test_round_trips_through_skops_with_only_our_type_to_trust(tmp_path):
    X, y = _data()
    for stacker in ("shared", "full"):
        clf = TriageClassifier(min_examples=10, stacker=stacker).fit(X, y)
        sio.dump(clf, tmp_path / "c.skops")
        assert set(sio.get_untrusted_types(file=tmp_path / "c.skops")) <= set(TRUSTED_TYPES)
        loaded = sio.load(tmp_path / "c.skops", trusted=list(TRUSTED_TYPES))
        np.testing.assert_allclose(loaded.predict_proba(X[:5]), clf.predict_proba(X[:5]))


def test_the_tfidf_vocabularies_are_saved_as_arrays_and_come_back_whole(tmp_path):
    X, y = _data()
    texts = [f"café naïve 東京 {t}" if i % 4 == 0 else t for i, t in enumerate(X[:, 0])]
    X = make_inputs(texts, np.vstack(X[:, 1]).astype(np.float32))
    clf = TriageClassifier(min_examples=10).fit(X, y)
    vocabularies = {name: dict(v.vocabulary_) for name, v in clf.vectorizer_.transformer_list}
    assert any(len(term) > len(term.encode("ascii", "ignore")) for term in vocabularies["word"])
    sio.dump(clf, tmp_path / "c.skops")
    # the fitted classifier keeps its vocabularies; the schema names no vocabulary entry by entry
    assert {name: v.vocabulary_ for name, v in clf.vectorizer_.transformer_list} == vocabularies
    with zipfile.ZipFile(tmp_path / "c.skops") as archive:
        schema = archive.read("schema.json").decode()
    assert '"vocabulary_"' not in schema and "naïve" not in schema
    loaded = load_classifier(tmp_path / "c.skops")
    assert {name: v.vocabulary_ for name, v in loaded.vectorizer_.transformer_list} == vocabularies
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))
    # a classifier saved before the vocabularies were packed (its state holds them as dicts) still loads
    state = clf.__getstate__()
    state["vectorizer_"] = clf.vectorizer_
    del state["vocabularies_"]
    old = TriageClassifier.__new__(TriageClassifier)
    old.__setstate__(state)
    np.testing.assert_allclose(old.predict_proba(X), clf.predict_proba(X))


class _Foreign:
    """A type no bundle may hold."""


def test_a_classifier_file_with_an_untrusted_type_is_refused_before_anything_is_built(tmp_path):
    X, y = _data()
    clf = TriageClassifier(min_examples=10).fit(X, y)
    sio.dump(clf, tmp_path / "ours.skops")
    assert load_classifier(tmp_path / "ours.skops").classes_.tolist() == clf.classes_.tolist()
    sio.dump({"model": _Foreign()}, tmp_path / "foreign.skops")
    with pytest.raises(ValueError, match=r"foreign\.skops holds types that are not trusted: .*_Foreign"):
        load_classifier(tmp_path / "foreign.skops")


def test_an_unknown_stacker_is_an_error():
    X, y = _data()
    with pytest.raises(ValueError, match="stacker must be"):
        TriageClassifier(stacker="boosted").fit(X, y)


def test_one_usable_label_is_an_error():
    X, y = _data()
    with pytest.raises(ValueError, match="at least two labels"):
        TriageClassifier(min_examples=10).fit(X[:30], y[:30])


def test_knn_vote_weights_the_nearest_rows():
    train = np.eye(3, dtype=np.float32)
    votes = knn_vote(train, np.array([0, 1, 2]), np.array([[0.9, 0.1, 0.0]], dtype=np.float32), 3, k=2)
    np.testing.assert_allclose(votes.sum(), 1.0)
    assert votes[0, 0] > 0.99 and votes[0, 2] == 0


@pytest.mark.parametrize("labels", [3, 2])
def test_fold_average_equals_scoring_fold_by_fold(labels, tmp_path):
    X, y = _data()
    keep = np.isin(y, list(WORDS)[:labels])
    clf = TriageClassifier(min_examples=10).fit(X[keep], y[keep])
    X_new, _ = _data(seed=3)
    fast = clf.fold_view_scores(X_new, chunk=7)
    text_matrix = clf.vectorizer_.transform([str(t) for t in X_new[:, 0]])
    vectors = np.stack(X_new[:, 1])
    slow = np.mean(
        [
            clf._view_scores(models, clf.train_vectors_[train], clf.train_y_[train], text_matrix, vectors)
            for models, train in clf.fold_views_
        ],
        axis=0,
    )
    assert fast.shape == (len(X_new), 3 * labels)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-6)
    # the arrangement is rebuilt after loading, never saved with the classifier
    sio.dump(clf, tmp_path / "c.skops")
    loaded = sio.load(tmp_path / "c.skops", trusted=list(TRUSTED_TYPES))
    assert "_arranged" not in loaded.__dict__ and "_arranged" in clf.__dict__
    np.testing.assert_allclose(loaded.fold_view_scores(X_new), fast, rtol=1e-5, atol=1e-6)


def _long_tail(seed: int = 3):
    """A common label and a rare one whose tickets read alike: the rare label is rarely the most probable."""
    rng = np.random.default_rng(seed)
    texts, vectors, labels = [], [], []
    for label, n, centre in (("Common", 150, [1.0, 0.0]), ("Rare", 8, [0.8, 0.6]), ("Other", 60, [0.0, 1.0])):
        for i in range(n):
            v = np.zeros(8)
            v[:2] = centre
            v += rng.normal(scale=0.35, size=8)
            texts.append(f"ticket about thing {i % 7}")
            vectors.append(v / np.linalg.norm(v))
            labels.append(label)
    return make_inputs(texts, np.array(vectors, dtype=np.float32)), np.array(labels)


def test_balanced_decisions_reach_a_rare_label_the_most_probable_rule_seldom_names():
    X, y = _long_tail()
    clf = TriageClassifier(min_examples=3, decision="balanced").fit(X, y)
    assert "Rare" in clf.classes_ and 0 < clf.decisions_["balanced"]["exponent"] <= 1
    assert clf.decisions_["most_probable"]["exponent"] == 0
    X_new, y_new = _long_tail(seed=4)
    balanced = clf.predict(X_new)
    most_probable = clf.set_params(decision="most_probable").predict(X_new)  # both rules are fitted
    assert np.array_equal(most_probable, clf.classes_[clf.predict_proba(X_new).argmax(axis=1)])
    rare = y_new == "Rare"
    assert (balanced[rare] == "Rare").sum() > (most_probable[rare] == "Rare").sum()
    # each rule abstains by the probability of the label it commits to, at its own threshold
    proba, _, abstain = clf.set_params(decision="balanced").predict_sets(X_new)
    committed = proba[np.arange(len(proba)), clf.decide(proba)]
    threshold = clf.decisions_["balanced"]["abstention"]["threshold"]
    assert np.array_equal(abstain, (committed < threshold) | clf.novel(X_new))


def test_labels_need_two_rows_and_decisions_are_named():
    X, y = _data()
    with pytest.raises(ValueError, match="at least 2"):
        TriageClassifier(min_examples=1).fit(X, y)
    with pytest.raises(ValueError, match="decision"):
        TriageClassifier(decision="fair").fit(X, y)
    clf = TriageClassifier(min_examples=3).fit(X, y)  # a label with 3 rows and 5 folds still fits
    assert "Rare" in clf.classes_ and not clf.insufficient_labels_


def test_a_classifier_saved_before_decision_rules_loads_as_most_probable():
    X, y = _data()
    clf = TriageClassifier(min_examples=10).fit(X, y)
    state = clf.__getstate__()
    state["abstention_"] = state.pop("decisions_")["most_probable"]["abstention"]
    for key in ("decision", "log_prior_"):
        state.pop(key)
    old = TriageClassifier.__new__(TriageClassifier)
    old.__setstate__(state)
    assert old.decision == "most_probable" and old.abstention_ == clf.abstention_
    assert np.array_equal(old.predict(X), clf.predict(X))
    state.pop("novelty_threshold_"), state.pop("novelty_rate")  # and before the new-kind check
    older = TriageClassifier.__new__(TriageClassifier)
    older.__setstate__(state)
    assert older.get_params()["novelty_rate"] == 0 and not older.novel(X).any()


def test_a_ticket_unlike_every_training_ticket_abstains_as_a_new_kind():
    X, y = _data()
    clf = TriageClassifier(min_examples=3, novelty_rate=0.04).fit(X, y)
    X_new, _ = _data(seed=2)
    assert clf.novel(X_new).mean() <= 0.1  # ordinary tickets: about the rate
    odd = np.zeros((1, 8), dtype=np.float32)
    odd[0, 5] = 1.0  # a direction no training ticket points in
    X_odd = make_inputs(["toner problem number 3"], odd)  # its words still read like Printing
    proba, _, abstain = clf.predict_sets(X_odd)
    assert clf.novel(X_odd)[0] and abstain[0]
    off = clone(clf).set_params(novelty_rate=0.0).fit(X, y)
    assert not off.novel(X_odd)[0]


def test_a_tiny_history_with_two_tickets_per_label_still_fits():
    X, y = _data(n_per_class=2)
    clf = TriageClassifier(min_examples=2).fit(X, y)
    assert sorted(clf.classes_) == ["Billing", "Network", "Printing", "Rare"]
    assert clf.predict_sets(X)[0].shape == (len(y), 4)


def test_a_fresh_process_loads_classifiers_trusting_only_the_types_they_hold(tmp_path):
    """A server imports skops without its default trust in every scikit-learn estimator (listing them
    imports all of scikit-learn: seconds of every start); both stackers still load, a foreign type not."""
    X, y = _data()
    for stacker in ("shared", "full"):
        sio.dump(TriageClassifier(min_examples=10, stacker=stacker).fit(X, y), tmp_path / f"{stacker}.skops")
    sio.dump({"model": LinearSVC.__new__(LinearSVC), "other": OneClassSVM()}, tmp_path / "foreign.skops")
    script = f"""
import pytest
from pathlib import Path
from triage.bundles.loading import load_classifier
for stacker in ("shared", "full"):
    assert load_classifier(Path({str(tmp_path)!r}) / f"{{stacker}}.skops").predict_proba
from skops.io import _trusted_types
assert _trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES == []
with pytest.raises(ValueError, match="OneClassSVM"):
    load_classifier(Path({str(tmp_path)!r}) / "foreign.skops")
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_the_classifiers_doubt_counts_towards_a_new_kind():
    X, y = _data()
    clf = TriageClassifier(min_examples=3, novelty_rate=0.04).fit(X, y)
    X_new, _ = _data(seed=2)
    proba = clf.predict_proba(X_new)
    familiar = familiarity(vectors_of(X_new), clf.train_vectors_)
    score = new_kind_score(familiar, proba.max(axis=1), clf.novelty_weight_)
    assert clf.novelty_weight_ > 0
    np.testing.assert_array_equal(clf.novel(X_new), score < clf.novelty_threshold_)
    np.testing.assert_array_equal(clf.novel(X_new, proba=proba), clf.novel(X_new))
    _, _, abstain, novel = clf.assess(X_new)
    np.testing.assert_array_equal(novel, clf.novel(X_new))
    assert abstain[novel].all()
    # the same familiarity with less confidence is less ordinary; without weight it is familiarity alone
    assert (
        new_kind_score(np.array([0.8]), np.array([0.4]), 0.25)[0]
        < new_kind_score(np.array([0.8]), np.array([0.9]), 0.25)[0]
    )
    np.testing.assert_array_equal(new_kind_score(familiar, proba.max(axis=1), 0.0), familiar)
    state = clf.__getstate__()
    state.pop("novelty_weight_")  # saved before the doubt counted: its threshold was of familiarity alone
    older = TriageClassifier.__new__(TriageClassifier)
    older.__setstate__(state)
    np.testing.assert_array_equal(older.novel(X_new), familiar < clf.novelty_threshold_)


def test_several_recent_open_tickets_alike_make_an_unusual_ticket_a_new_kind():
    """Not new alone; new once three recent open tickets are closer to it than the resolved ones are. An
    ordinary ticket with the same recent tickets, or an unusual one with only copies of itself, is not."""
    X, y = _data()
    clf = TriageClassifier(min_examples=3, novelty_rate=0.04).fit(X, y)

    def unit(v):
        return (v / np.linalg.norm(v)).astype(np.float32)

    unusual = unit(np.eye(8)[0] * 0.6 + np.eye(8)[5] * 0.4)  # between Network and a direction nobody uses
    ordinary = unit(np.eye(8)[0])
    alike = np.array([unit(unusual * 0.92 + np.sqrt(1 - 0.92**2) * np.eye(8)[d]) for d in (3, 4, 6)])
    X_new = make_inputs(["vpn problem number 99", "vpn problem number 98"], np.array([unusual, ordinary]))
    assert not clf.novel(X_new).any()
    assert clf.novel(X_new, recent=recent_closeness(vectors_of(X_new), alike)).tolist() == [True, False]
    copies = np.repeat(unusual[None], 3, axis=0)  # the same ticket again (a resend): not a second one
    assert not clf.novel(X_new, recent=recent_closeness(vectors_of(X_new), copies)).any()
    _, _, abstain, novel = clf.assess(X_new, recent=recent_closeness(vectors_of(X_new), alike))
    assert novel[0] and abstain[0]
    state = clf.__getstate__()
    state.pop("recent_gate_")  # saved before recent open tickets counted: they change nothing
    older = TriageClassifier.__new__(TriageClassifier)
    older.__setstate__(state)
    assert not older.novel(X_new, recent=recent_closeness(vectors_of(X_new), alike)).any()
