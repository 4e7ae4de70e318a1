from __future__ import annotations

from pathlib import Path

from kb.importer import import_folder
from models.db import session_scope
from triage.bundles.loading import load_bundle
from triage.bundles.registry import get_active, list_versions
from triage.bundles.training import KIND, train_bundle
from triage.desk.suggest import suggest
from triage.knowledge.kb_index import load_knowledge
from triage.ml.embedding_cache import EmbeddingCache

DEMO = Path(__file__).resolve().parents[3] / "data"


def test_articles_only_still_builds_a_bundle(sessions, encoder, backend, deployments, tmp_path: Path):
    deployments.warm_cache(backend, tmp_path)  # the demo KB's passages, embedded once per run
    with session_scope(sessions) as session:
        import_folder(session, DEMO / "kb")
        result = train_bundle(session, encoder, tmp_path)
        knowledge = load_knowledge(session, encoder, EmbeddingCache.in_artifacts(tmp_path, encoder))
    assert result.manifest["classifiers"] == {}
    assert set(result.manifest["classifiers_skipped"]) == {"category", "priority", "assignee"}
    bundle = load_bundle(result.path)
    answer = suggest(bundle, knowledge.search, encoder, subject="I forgot my VPN password", body=None)
    assert answer.articles[0].slug == "i-forgot-my-vpn-password"
    assert answer.similar_tickets == []
    assert {p.status for p in answer.predictions.values()} == {"unavailable"}
    assert "labels" in answer.predictions["category"].reason


def test_demo_bundle_is_active_self_describing_and_sensible(demo_settings, encoder):
    from models.db import make_engine, make_session_factory

    engine = make_engine(demo_settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        active = get_active(session, KIND)
        assert len(list_versions(session, KIND)) == 1
        cache = EmbeddingCache.in_artifacts(demo_settings.models.artifacts_dir, encoder)
        load_knowledge(session, encoder, cache)
        knowledge = load_knowledge(session, encoder, cache)
    engine.dispose()
    assert knowledge.encoded == 0  # a rebuild of an unchanged KB encodes nothing
    manifest = active.manifest
    assert manifest["encoder"]["name"] == "all-MiniLM-L6-v2"
    assert manifest["inputs"]["tickets"]["rows"] >= 300
    category_metrics = manifest["metrics"]["category"]
    assert category_metrics["oof_accuracy"] > 0.6 > category_metrics["majority_baseline_accuracy"]
    assert category_metrics["conformal"]["coverage"] == 0.9
    assert category_metrics["abstention"]["target_precision"] == 0.9
    assert "tickets.faiss" in manifest["files"] and "articles.faiss" not in manifest["files"]  # KB lives apart

    bundle = load_bundle(Path(active.path))
    answer = suggest(bundle, knowledge.search, encoder, subject="I forgot my VPN password", body=None, top_k=5)
    assert answer.bundle_version == active.version
    top = [a.slug for a in answer.articles[:3]]
    assert top[0] == "i-forgot-my-vpn-password"
    assert "forgot-kestrel-id-password" in top
    category = answer.predictions["category"]
    assert category.status == "ok"
    assert category.label in {"Network & VPN", "Accounts & Passwords"}
    assert 0 < category.confidence <= 1
    assert category.label in category.prediction_set and not category.abstained
    assert category.bundle_version == active.version
    assert "most similar resolved tickets" in category.evidence["summary"]
    assert len(category.evidence["tickets"]) == 5
    for prediction in answer.predictions.values():
        assert prediction.status in {"ok", "abstained"}
        if prediction.abstained:
            assert prediction.label is None and prediction.reason
            assert isinstance(prediction.prediction_set, list)
    assert all(t.category for t in answer.similar_tickets)
