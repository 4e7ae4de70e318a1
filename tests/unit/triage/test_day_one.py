"""Nothing fits from day one: calibrated on the KB's own passages, before any portal outcome exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triage.evaluation.kb_folders import load_kb_sections
from triage.knowledge.day_one import DAY_ONE_FEATURES, fit_from_kb, hit_features, pseudo_query
from triage.knowledge.retrieval import KnowledgeSearch, section_passages

DEMO_KB = Path(__file__).resolve().parents[3] / "data" / "kb"


def test_a_pseudo_query_is_a_question_or_a_short_block():
    assert pseudo_query("Payment failed? Usually it is fixed in minutes.") == "Payment failed?"
    assert pseudo_query("I want to start using my card.") == "I want to start using my card."
    assert pseudo_query("Open the bank app. " * 20) is None  # an explanation, not something a customer types


@pytest.fixture(scope="module")
def demo(encoder) -> KnowledgeSearch:
    sections = [s for s in load_kb_sections(DEMO_KB) if s["language"] == "en"]
    passages = [p for s in sections for p in section_passages(s)]
    vectors = encoder.encode_batch([t for _, t in passages])
    return KnowledgeSearch.build(sections, [p for p, _ in passages], vectors)


def test_calibrated_on_the_demo_kb_it_shows_answers_and_refuses_nonsense(demo, encoder):
    model = fit_from_kb(demo, encoder.encode_batch, max_queries=400, scrambled=80)
    assert model is not None
    described = model.describe()
    assert described["source"] == "kb" and set(described["coefficients"]) == set(DAY_ONE_FEATURES)
    assert 0 < described["unanswerable"] < described["pseudo_queries"] <= 400 + 80
    assert model.threshold(0.1) == model.cutoff >= 0.5  # its own cut-off, not the outcome model's setting
    answered = ["I forgot my VPN password", "The printer is out of toner", "How do I report a phishing email?"]
    nonsense = ["qwxz vbnm zzkv plorf", "How do I bake sourdough bread?", "what's the weather tomorrow"]
    texts = answered + nonsense
    vectors = encoder.encode_batch(texts)
    hits = [demo.search(v, t, top_k=3) for v, t in zip(vectors, texts, strict=True)]
    p = model.probabilities(vectors, hits)
    assert max(p[:3]) < model.cutoff <= min(p[3:]), dict(zip(texts, p.round(3), strict=True))
    assert fit_from_kb(demo, encoder.encode_batch, min_articles=1000) is None  # too few articles to hold out


def test_features_read_the_best_article_and_its_lead(demo, encoder):
    vector = encoder.encode_batch(["I forgot my VPN password"])[0]
    hits = demo.search(vector, "I forgot my VPN password", top_k=3)
    (row,) = hit_features([hits])
    assert row[0] == hits[0].similarity and row[1] == pytest.approx(hits[0].similarity - hits[1].similarity)
    assert row[2] == hits[0].score and row[4] == pytest.approx(max(h.score - h.similarity for h in hits))
    assert hit_features([[]]).tolist() == [[0.0] * len(DAY_ONE_FEATURES)]
    assert np.shape(hit_features([])) == (0, len(DAY_ONE_FEATURES))
