"""The "nothing fits" model: neighbour evidence with known answers, and learning a KB gap from outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from triage.knowledge.nothing_fits import NothingFitsClassifier, OutcomeMemory, answer_features, fit_nothing_fits
from triage.knowledge.retrieval import ArticleHit, KnowledgeSearch, section_passages
from triage.knowledge.shared_fits import MISSING, shared_fit

VPN_PASSWORD = [
    "I forgot my VPN password",
    "VPN password expired, how do I reset it",
    "Locked out of the VPN after too many password attempts",
    "Need to reset my VPN password",
    "I cannot remember the password for the VPN",
    "VPN login says my password is wrong",
    "How do I change my VPN password?",
    "Password reset for my VPN account",
    "My VPN password no longer works",
    "VPN account locked, forgot the password",
    "Please reset my VPN credentials",
    "The VPN keeps rejecting my password",
]
TONER = [
    "The printer says toner low",
    "How do I replace the toner cartridge",
    "The printer is out of toner",
    "Toner cartridge empty on the third floor printer",
    "Prints are faint, I need new toner",
    "Where do I put the new toner",
    "Printer toner needs replacing",
    "Change the toner in the office printer",
    "Toner warning on the printer",
    "Install a new toner cartridge",
    "The printer prints pale pages, is the toner empty?",
    "How to swap the printer toner",
]
VPN_DROPS = [  # the KB has no article on this: the password article was shown and did not help
    "My VPN keeps disconnecting",
    "VPN connection drops every few minutes",
    "VPN disconnects when I join a video call",
    "The VPN tunnel keeps dropping out",
    "The VPN connection times out constantly",
    "VPN drops whenever my laptop goes to sleep",
    "Unstable VPN connection at home",
    "The VPN disconnects randomly during the day",
    "The VPN cuts out every hour",
    "VPN connection lost repeatedly",
    "The VPN keeps reconnecting all the time",
    "VPN session ends after a few minutes",
]
SECTIONS = [
    {
        "id": n,
        "slug": slug,
        "title": title,
        "language": "en",
        "status": "published",
        "revision": 1,
        "heading": title,
        "heading_path": [title],
        "anchor": slug,
        "text": text,
    }
    for n, (slug, title, text) in enumerate(
        [
            ("vpn-password", "Reset your VPN password", "Open the ID portal, choose Forgot password, follow the link."),
            ("replace-toner", "Replace the toner", "Open the printer's front door and push the new cartridge in."),
        ],
        start=1,
    )
]


def test_evidence_is_the_weighted_share_of_neighbour_outcomes():
    vectors = np.eye(4, dtype=np.float32)[:3]  # three orthogonal drafts
    query = np.array([[0.8, 0.6, 0.0, 0.0]], dtype=np.float32)  # similarity 0.8, 0.6 and 0 to them
    memory = OutcomeMemory(vectors, [None, "a", "b"])
    evidence = memory.evidence(query, [["a"]], n_neighbors=2, prior_weight=0.6)
    assert evidence[0] == pytest.approx([0.8 / 2.0, 0.6 / 2.0])  # weights 0.8 + 0.6, plus the prior 0.6
    own = memory.evidence(vectors, [["a"], ["a"], ["a"]], n_neighbors=2, prior_weight=1.0, exclude_self=True)
    assert own == pytest.approx(np.zeros((3, 2)))  # each leaves itself out; the others are orthogonal


def test_features_read_the_best_similarity_and_its_lead():
    def hit(similarity: float) -> ArticleHit:
        return ArticleHit("s", "t", "en", 1, similarity, similarity, "h", ["h"], "a", "", "/v1/articles/s#a")

    rows = answer_features([[hit(0.7), hit(0.5)], [hit(0.4)], []], np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]))
    assert rows == pytest.approx(np.array([[0.7, 0.2, 0.1, 0.2], [0.4, 0.4, 0.3, 0.4], [0.0, 0.0, 0.5, 0.6]]))
    assert NothingFitsClassifier().fit(rows, [0, 1, 1]).predict_proba(rows).shape == (3, 2)


@pytest.fixture(scope="module")
def search(encoder) -> KnowledgeSearch:
    passages = [p for s in SECTIONS for p in section_passages(s)]
    return KnowledgeSearch.build(SECTIONS, [p for p, _ in passages], encoder.encode_batch([t for _, t in passages]))


def test_learns_that_nothing_fits_a_topic_the_kb_lacks(search, encoder):
    texts = VPN_PASSWORD + TONER + VPN_DROPS
    helped = ["vpn-password"] * len(VPN_PASSWORD) + ["replace-toner"] * len(TONER) + [None] * len(VPN_DROPS)
    vectors = encoder.encode_batch(texts)
    assert fit_nothing_fits(search, texts[:20], vectors[:20], helped[:20]) is None  # fewer than 30 outcomes
    assert fit_nothing_fits(search, texts[:24], vectors[:24], helped[:24], min_outcomes=10) is None  # all helped

    model = fit_nothing_fits(search, texts, vectors, helped)
    assert model is not None and model.describe()["outcomes"] == 36 and model.describe()["nothing_helped"] == 12
    new = ["The VPN drops out during meetings", "I forgot the password of my VPN again", "The printer needs toner"]
    new_vectors = encoder.encode_batch(new)
    hits = [search.search(v, t, top_k=3) for v, t in zip(new_vectors, new, strict=True)]
    assert hits[0][0].slug == "vpn-password"  # search alone would show the password article
    gap, password, toner = model.probabilities(new_vectors, hits)
    assert gap > 0.5 > max(password, toner)


def test_a_fit_is_shared_through_a_folder_and_read_back_exactly(search, encoder, tmp_path):
    texts = VPN_PASSWORD + TONER + VPN_DROPS
    helped = ["vpn-password"] * len(VPN_PASSWORD) + ["replace-toner"] * len(TONER) + [None] * len(VPN_DROPS)
    vectors = encoder.encode_batch(texts)
    fits = []

    def fit():
        fits.append(1)
        return fit_nothing_fits(search, texts, vectors, helped)

    assert shared_fit(tmp_path, "state-1", fit, may_fit=False) is MISSING  # a reader waits for the fitter
    model = shared_fit(tmp_path, "state-1", fit)
    again = shared_fit(tmp_path, "state-1", fit, may_fit=False)  # another process reads the fit
    assert len(fits) == 1 and again.describe() == model.describe()
    new = ["The VPN drops out during meetings", "The printer needs toner"]
    new_vectors = encoder.encode_batch(new)
    hits = [search.search(v, t, top_k=3) for v, t in zip(new_vectors, new, strict=True)]
    assert np.allclose(again.probabilities(new_vectors, hits), model.probabilities(new_vectors, hits))
    assert shared_fit(tmp_path, "state-2", lambda: None) is None  # "too few outcomes" is shared too
    assert shared_fit(tmp_path, "state-2", fit, may_fit=False) is None and len(fits) == 1
