"""Hybrid retrieval over article sections: passages, fusion, status filter, marked snippets."""

from __future__ import annotations

import numpy as np
import pytest

from triage.knowledge.retrieval import PASSAGES_PER_SECTION, KnowledgeSearch, marked_snippet, section_passages


def _section(id_: int, slug: str, text: str, status: str = "published", heading: str = "Steps") -> dict:
    return {
        "id": id_,
        "slug": slug,
        "title": slug.replace("-", " ").title(),
        "language": "en",
        "status": status,
        "revision": 1,
        "heading": heading,
        "heading_path": [slug.replace("-", " ").title(), heading],
        "anchor": heading.lower(),
        "text": text,
    }


SECTIONS = [
    _section(1, "reset-vpn-password", "Open the Kestrel ID portal and choose Forgot password.\nWait five minutes."),
    _section(2, "replace-toner", "Open the front door of the printer.\nShake the new toner cartridge and push it in."),
    _section(3, "order-a-laptop", "Laptops are ordered through the IT shop.\nDelivery takes two weeks."),
    _section(4, "old-vpn-client", "The old VPN client and its password reset are retired.", status="archived"),
    _section(5, "vpn-draft", "Draft notes about VPN passwords being forgotten by users.", status="draft"),
]


@pytest.fixture(scope="module")
def search(encoder) -> KnowledgeSearch:
    passages = [p for s in SECTIONS for p in section_passages(s)]
    vectors = encoder.encode_batch([text for _, text in passages])
    return KnowledgeSearch.build(SECTIONS, [pid for pid, _ in passages], vectors)


def test_passages_are_blocks_with_their_heading_path_and_ids_derived_from_the_section():
    section = _section(7, "a", "Short.\nThis block is long enough to stand on its own as a passage.\nTail.")
    passages = section_passages(section)
    # n = 0 is the whole section; short blocks join their neighbours, so one passage follows; then the
    # heading path alone
    assert [pid for pid, _ in passages] == [7 * PASSAGES_PER_SECTION + n for n in range(3)]
    assert all(text.startswith("A > Steps\n") for _, text in passages[:2])
    assert passages[1][1].endswith("as a passage. Tail.") and passages[2][1] == "A > Steps"
    many = _section(2, "b", "\n".join(f"block number {n} is long enough to be a passage" for n in range(100)))
    ids = [pid for pid, _ in section_passages(many)]
    assert len(ids) == PASSAGES_PER_SECTION and all(pid // PASSAGES_PER_SECTION == 2 for pid in ids)


@pytest.mark.parametrize("method", ["hybrid", "dense", "bm25", "rrf"])
def test_every_method_finds_the_right_article_and_skips_archived_ones(search, encoder, method):
    query = "I forgot my VPN password"
    vector = encoder.encode_batch([query])[0]
    hits = search.search(vector, query, top_k=3, method=method, statuses=("published",))
    assert hits[0].slug == "reset-vpn-password"
    assert {h.slug for h in hits} <= {"reset-vpn-password", "replace-toner", "order-a-laptop"}
    assert hits[0].heading == "Steps" and hits[0].anchor == "steps" and 0 < hits[0].similarity <= 1


def test_agents_see_drafts_the_portal_does_not(search, encoder):
    query = "VPN passwords forgotten by users"
    vector = encoder.encode_batch([query])[0]
    assert "vpn-draft" in [h.slug for h in search.search(vector, query, statuses=("draft", "published"))]
    assert "vpn-draft" not in [h.slug for h in search.search(vector, query, statuses=("published",))]


def test_unknown_method_is_an_error(search, encoder):
    with pytest.raises(ValueError, match="method must be one of"):
        search.search(encoder.encode_batch(["x"])[0], "x", method="magic")


def test_snippet_marks_matched_words_and_escapes_html():
    text = "Use <b>bold</b> text. " + "filler " * 60 + "Then reset the VPN password here."
    snippet = marked_snippet(text, ["reset", "password"], limit=120)
    assert "<mark>reset</mark>" in snippet and "<mark>password</mark>" in snippet
    assert snippet.startswith("… ")  # the window moved to the first match
    assert "<b>" not in marked_snippet("<b>password</b>", ["password"])
    assert marked_snippet("<b>password</b>", ["password"]) == "&lt;b&gt;<mark>password</mark>&lt;/b&gt;"


def test_empty_knowledge_returns_nothing(encoder):
    empty = KnowledgeSearch.build([], [], np.zeros((0, 384), dtype=np.float32))
    assert empty.search(encoder.encode_batch(["x"])[0], "x") == []


def test_with_a_multilingual_encoder_bm25_across_languages_does_not_outweigh_the_meaning():
    forgot = _section(1, "i-forgot-my-vpn-password", "Reset it in the Kestrel ID portal under Forgot password.")
    install = _section(2, "install-vpn", "Install the VPN client. The VPN icon shows when the VPN is connected.")
    passages = [p for s in (forgot, install) for p in section_passages(s)]
    meaning = {1: [0.8, 0.6, 0.0], 2: [0.78, 0.0, 0.626]}  # the query is a little closer to "forgot"
    vectors = np.array([meaning[pid // PASSAGES_PER_SECTION] for pid, _ in passages], dtype=np.float32)
    query = "Ik ben mijn VPN-wachtwoord vergeten"  # Dutch: only "VPN" matches, and it matches "install"
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    ids = [pid for pid, _ in passages]
    english_only = KnowledgeSearch.build([forgot, install], ids, vectors)
    multilingual = KnowledgeSearch.build([forgot, install], ids, vectors, cross_language_lexical=False)
    assert english_only.search(vector, query, language="nl")[0].slug == "install-vpn"  # shared names still count
    assert multilingual.search(vector, query, language="nl")[0].slug == "i-forgot-my-vpn-password"
    # within a language BM25 still breaks near-ties
    assert multilingual.search(vector, "vpn client icon", language="en")[0].slug == "install-vpn"


def test_a_short_query_that_paraphrases_a_title_finds_that_article_first(encoder):
    """The body of the install guide says "VPN" and "password" more often than the article whose title
    the query paraphrases; the title counts on its own."""
    forgot = _section(1, "i-forgot-my-vpn-password", "Use the self-service portal and choose Reset.\nWait a minute.")
    forgot["heading_path"] = ["I forgot my VPN password", "Steps"]
    install = _section(
        2,
        "install-globalprotect",
        "Install the GlobalProtect VPN client.\nSign in to the VPN with your password and the VPN connects.",
    )
    install["heading_path"] = ["Install GlobalProtect and connect to the VPN", "Steps"]
    passages = [p for s in (forgot, install) for p in section_passages(s)]
    search = KnowledgeSearch.build(
        [forgot, install], [pid for pid, _ in passages], encoder.encode_batch([t for _, t in passages])
    )
    vector = encoder.encode_batch(["vpn password"])[0]
    assert [hit.slug for hit in search.search(vector, "vpn password", method="dense")][0] == "i-forgot-my-vpn-password"
