"""The serving KB index follows the database: edits re-embed only what changed, archived articles drop out."""

from __future__ import annotations

from pathlib import Path

from kb.parsing import validate_draft
from kb.sections import kb_stamp
from kb.store import create_article, update_article
from models.db import session_scope
from triage.knowledge.kb_index import load_knowledge, refit_nothing_fits
from triage.ml.embedding_cache import EmbeddingCache

VPN = (
    "## Reset\nOpen the Kestrel ID portal and choose Forgot password.\n\n## Still stuck\nCall the service desk on 4000."
)
TONER = "## Replace the toner\nOpen the front door of the printer and shake the new cartridge before use."


def _search(knowledge, encoder, query: str, statuses=("published",)) -> list[str]:
    vector = encoder.encode_batch([query])[0]
    return [hit.slug for hit in knowledge.search.search(vector, query, statuses=statuses)]


def test_rebuild_encodes_only_changed_passages_and_follows_status(sessions, encoder, tmp_path: Path):
    cache = EmbeddingCache.in_artifacts(tmp_path, encoder)
    with session_scope(sessions) as session:
        create_article(session, validate_draft(slug="vpn", title="VPN password", body=VPN, status="published"))
        create_article(session, validate_draft(slug="toner", title="Toner", body=TONER, status="published"))
    with session_scope(sessions) as session:
        first = load_knowledge(session, encoder, cache)
    # per section its text (whole and its one passage are the same text) and its heading path alone
    assert first.encoded == 6 and len(first.search.chunks) == 3
    assert _search(first, encoder, "forgot my VPN password")[0] == "vpn"

    with session_scope(sessions) as session:
        before = kb_stamp(session)
        body = VPN.replace("Call the service desk on 4000.", "Chat with the service desk in Teams.")
        update_article(session, "vpn", validate_draft(slug="vpn", title="VPN password", body=body))
    with session_scope(sessions) as session:
        assert kb_stamp(session) != before
        second = load_knowledge(session, encoder, cache)
    assert second.encoded == 1  # only the edited section's passage was new

    with session_scope(sessions) as session:
        update_article(session, "vpn", validate_draft(slug="vpn", title="VPN password", body=body, status="archived"))
        create_article(session, validate_draft(slug="vpn-notes", title="VPN notes", body=VPN, status="draft"))
    with session_scope(sessions) as session:
        third = load_knowledge(session, encoder, cache)
    assert "vpn" not in _search(third, encoder, "forgot my VPN password", statuses=("draft", "published"))
    assert _search(third, encoder, "forgot my VPN password", statuses=("draft", "published"))[0] == "vpn-notes"
    assert "vpn-notes" not in _search(third, encoder, "forgot my VPN password")


def test_the_day_one_model_is_stored_by_kb_content_and_fitted_again_without_it(
    sessions, encoder, backend, deployments, tmp_path: Path
):
    from kb.importer import import_folder
    from triage.knowledge.day_one import KbNothingFitsModel

    deployments.warm_cache(backend, tmp_path)  # the demo KB's passages and pseudo-queries, embedded once per run
    cache = EmbeddingCache.in_artifacts(tmp_path, encoder)
    with session_scope(sessions) as session:
        import_folder(session, Path(__file__).resolve().parents[3] / "data" / "kb")
        first = load_knowledge(session, encoder, cache)
        stored = list((tmp_path / "cache" / "day-one").glob("*.json"))
        assert isinstance(first.nothing_fits, KbNothingFitsModel) and len(stored) == 1
        for path in stored:
            path.write_text("{not json")  # damaged: fitted again, and stored again
        again = load_knowledge(session, encoder, cache)
    assert again.nothing_fits.to_dict() == first.nothing_fits.to_dict()
    assert KbNothingFitsModel.from_dict(first.nothing_fits.to_dict()).to_dict() == first.nothing_fits.to_dict()
    assert stored[0].read_text().startswith('{"coef"')

    with session_scope(sessions) as session:  # an edit: the index follows at once, the calibration when due
        update_article(
            session,
            "vpn-disconnects-or-slow",
            validate_draft(slug="vpn-disconnects-or-slow", title="VPN drops", body=VPN),
        )
    with session_scope(sessions) as session:
        edited = load_knowledge(session, encoder, cache, previous=again)
        assert edited.nothing_fits is again.nothing_fits and edited.calibration_stale
        refitted = refit_nothing_fits(session, edited, encoder, cache, limit=100)
    assert not refitted.calibration_stale and refitted.fitted_on == edited.stamp
    assert len(list((tmp_path / "cache" / "day-one").glob("*.json"))) == 2  # one per KB content
