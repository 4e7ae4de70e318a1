"""BM25 through bm25s, with our analysis (stop words, stemming per language)."""

from __future__ import annotations

from pathlib import Path

from triage.ml.lexical import LexicalIndex, analyse


def test_analysis_drops_stop_words_keeps_negations_and_stems_per_language():
    assert analyse("How do I reset my passwords?") == ["reset", "password"]
    assert "not" in analyse("card not working")
    assert analyse("Instellingen vergeten", "nl") == analyse("instelling vergeet", "nl") == ["instel", "vergeet"]
    assert analyse("Die Druckers sind nicht da", "de") == ["druck", "nicht"]
    assert analyse("Ünïcode ÑAME", "xx") == ["ünïcode", "ñame"]  # unknown language: lower-cased words only


def test_ranks_by_bm25_and_round_trips(tmp_path: Path):
    index = LexicalIndex.build(
        [10, 20, 30],
        ["VPN password reset steps", "printer toner replacement", "reset the printer queue"],
    )
    hits = index.search(analyse("reset VPN password"), k=3)
    assert [i for i, _ in hits] == [10, 30]  # the printer toner text shares no term and is left out
    assert hits[0][1] > hits[1][1] > 0
    index.save(tmp_path / "lexical.json")
    again = LexicalIndex.load(tmp_path / "lexical.json")
    assert again.search(analyse("reset VPN password"), k=3) == hits


def test_unknown_terms_and_empty_index_score_nothing():
    index = LexicalIndex.build([1], ["printer toner"])
    assert index.search(analyse("zebra"), k=5) == []
    assert index.scores([]).tolist() == [0.0]
    assert LexicalIndex.build([], []).search(["printer"], k=5) == []
