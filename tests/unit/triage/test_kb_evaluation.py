"""evaluate_kb on a small KB written by write_intent_articles, with the real encoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from triage.errors import InvalidImport
from triage.evaluation.kb import evaluate_kb, no_answer_threshold
from triage.evaluation.kb_folders import write_intent_articles

ROWS = [
    ("I am still waiting for my new card", "card_arrival"),
    ("When will my card arrive?", "card_arrival"),
    ("My card was swallowed by the ATM", "card_swallowed"),
    ("The cash machine kept my card", "card_swallowed"),
    ("How do I change my PIN?", "change_pin"),
    ("I want a new PIN number", "change_pin"),
]
QUERIES = [
    {"text": "my card has not arrived yet", "intent": "card_arrival"},
    {"text": "the ATM ate my card", "intent": "card_swallowed"},
    {"text": "can I pick a different PIN", "intent": "change_pin"},
]


@pytest.fixture
def kb(tmp_path: Path) -> tuple[Path, Path]:
    assert write_intent_articles(ROWS, tmp_path / "kb", per_intent=2) == 3
    queries = tmp_path / "queries.jsonl"
    queries.write_text("".join(json.dumps(q) + "\n" for q in QUERIES))
    return tmp_path / "kb", queries


def test_intent_articles_are_importable_markdown(kb):
    text = (kb[0] / "card-arrival.md").read_text()
    assert text.startswith("---\nslug: card-arrival\ntitle: Card arrival\nstatus: published\n---")
    assert "- When will my card arrive?" in text


def test_every_method_is_measured_and_the_no_answer_check_runs(kb, encoder):
    report = evaluate_kb(kb[0], kb[1], {"text": "text", "article": "intent"}, encoder.encode_batch)
    assert set(report["methods"]) == {"hybrid", "dense", "bm25", "rrf", "plain_dense"}
    assert report["methods"]["hybrid"]["recall@1"] == 1.0 and report["methods"]["hybrid"]["mrr"] == 1.0
    removed = evaluate_kb(kb[0], kb[1], {"text": "text", "article": "intent"}, encoder.encode_batch, remove=1)
    assert removed["articles"] == 2 and removed["rows"]["unanswerable"] == 1
    assert 0 <= removed["no_answer"]["auroc"] <= 1 and "held_out" in removed["no_answer"]
    assert removed["nothing_fits_from_kb"] is None  # two articles: too few to calibrate on; the floor decides
    floor = removed["similarity_floor"]
    assert floor["min_similarity"] == 0.5 and 0 <= floor["answerable_answered_with_article_in_top3"] <= 1


@pytest.mark.parametrize(
    ("mapping", "field"),
    [({"text": "text"}, "map.article"), ({"text": "query", "article": "intent"}, "map.text")],
)
def test_bad_mappings_name_the_field(kb, encoder, mapping, field):
    with pytest.raises(InvalidImport) as error:
        evaluate_kb(kb[0], kb[1], mapping, encoder.encode_batch)
    assert error.value.field == field


def test_queries_for_articles_the_kb_lacks_are_an_error(kb, encoder, tmp_path: Path):
    odd = tmp_path / "odd.jsonl"
    odd.write_text(json.dumps({"text": "refund please", "intent": "refund"}) + "\n")
    with pytest.raises(InvalidImport, match="lacks"):
        evaluate_kb(kb[0], odd, {"text": "text", "article": "intent"}, encoder.encode_batch)


def test_no_answer_threshold_refuses_the_target_share():
    scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    unanswerable = [True] * 10
    threshold = no_answer_threshold(scores, unanswerable, min_refused=0.8)
    assert sum(s >= threshold for s in scores) >= 8 and threshold == 0.3
    assert no_answer_threshold([0.5], [False]) == float("inf")


HISTORY = {
    "card_arrival": ["my card is late", "card not delivered", "where is my new card", "card still not here"],
    "card_swallowed": ["atm took my card", "machine kept the card", "card stuck in atm", "cash point ate it"],
    "change_pin": ["new pin please", "how to change pin", "forgot my pin", "reset the pin code"],
    "refund": ["I want a refund", "refund my purchase", "money back please", "return for a refund"],
}


def test_history_fits_the_nothing_fits_model(kb, encoder, tmp_path: Path):
    history = tmp_path / "history.jsonl"
    rows = [{"text": f"{t} ({n})", "intent": i} for n in range(2) for i, texts in HISTORY.items() for t in texts]
    history.write_text("".join(json.dumps(r) + "\n" for r in rows))
    mapping = {"text": "text", "article": "intent"}
    report = evaluate_kb(kb[0], kb[1], mapping, encoder.encode_batch, remove=1, history=history)
    fits = report["nothing_fits"]
    assert fits["model"]["outcomes"] == 32 and fits["model"]["nothing_helped"] == 16  # refund and the removed one
    assert 0 <= fits["auroc"] <= 1 and 0 <= fits["calibration_ece"] <= 1 and fits["probability_threshold"] == 0.5
    assert {"unanswerable_refused", "answerable_answered_with_article_in_top3"} <= set(fits)

    history.write_text("".join(json.dumps(r) + "\n" for r in rows[:10]))
    with pytest.raises(InvalidImport) as error:
        evaluate_kb(kb[0], kb[1], mapping, encoder.encode_batch, history=history)
    assert error.value.field == "history"
