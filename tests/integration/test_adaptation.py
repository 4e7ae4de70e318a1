"""A bundle that carries its own fine-tuned encoder, over real HTTP: trained on the older tickets and the
KB, checksummed with the bundle, gated, served (the KB index embedded again with it) and rolled back."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from api.app import create_app
from kb.importer import import_folder
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import keyed_client
from triage.bundles.adaptation import FineTuning, bundle_encoder
from triage.bundles.promotion import gate
from triage.bundles.training import KIND, train_bundle
from triage.desk.ticket_import import import_tickets
from triage.ml.bundle import verify_bundle

DEMO = Path(__file__).resolve().parents[2] / "data"
ARTICLES = ("i-forgot-my-vpn-password", "printer-paper-jam-and-toner", "account-locked-out")


@pytest.fixture
def trained(settings, encoder, tmp_path):
    """116 demo tickets and three articles; a frozen bundle (active) and a fine-tuned candidate."""
    kb = tmp_path / "kb"
    kb.mkdir()
    for slug in ARTICLES:
        shutil.copy(DEMO / "kb" / f"{slug}.md", kb)
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    artifacts = settings.models.artifacts_dir
    with session_scope(sessions) as session:
        import_folder(session, kb)
        import_tickets(session, DEMO / "tickets" / "part-a.jsonl")
        frozen = train_bundle(session, encoder, artifacts)
        tuning = FineTuning(minutes=5, passes=0.05)
        tuned = train_bundle(session, encoder, artifacts, activate=False, finetune=tuning)
    yield settings, sessions, frozen, tuned
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # about the encoder, not the database: once
def test_a_fine_tuned_bundle_is_gated_served_and_rolled_back(trained, encoder):
    settings, sessions, frozen, tuned = trained
    described = tuned.manifest["encoder"]
    assert described["name"].startswith("all-MiniLM-L6-v2+ft-") and described["base"] == "all-MiniLM-L6-v2"
    tuning = described["finetune"]
    assert tuning["steps"] >= 1 and tuning["stopped_by"] == "passes" and tuning["texts_per_second"] > 0
    held = tuned.manifest["holdout"]["rows"]
    assert held > 0 and "encoder/finetune.json" in tuned.manifest["files"]
    verify_bundle(tuned.path)  # the encoder's weights are checksummed with the rest
    own = bundle_encoder(tuned.path, tuned.manifest, encoder)
    assert own.name == described["name"]
    vectors = own.encode_batch(["I forgot my VPN password"])
    assert not np.allclose(vectors, encoder.encode_batch(["I forgot my VPN password"]), atol=1e-4)
    assert bundle_encoder(frozen.path, frozen.manifest, encoder) is encoder
    with session_scope(sessions) as session:
        report = gate(session, KIND, tuned.version, encoder, settings.models.artifacts_dir)
    assert report.libraries["compatible"], report.libraries  # the encoder travels with the bundle

    with keyed_client(create_app(settings, encoder=encoder)) as client:
        serving = client.app.state.serving
        assert serving.encoder.name == "all-MiniLM-L6-v2" == serving.knowledge.encoder_name
        promoted = client.post(f"/v1/models/{tuned.version}/promote", json={"force": True})
        assert promoted.status_code == 200, promoted.text
        assert serving.encoder.name == described["name"] == serving.knowledge.encoder_name  # KB embedded again
        answer = client.post("/v1/suggest", json={"subject": "I forgot my VPN password"}).json()
        assert answer["bundle_version"] == tuned.version
        assert answer["articles"][0]["slug"] == "i-forgot-my-vpn-password"
        assert answer["similar_tickets"] and answer["predictions"]["category"]["status"] in {"ok", "abstained"}
        portal = client.post("/v1/portal/suggest", json={"subject": "printer paper jam"}).json()
        assert portal["articles"][0]["slug"] == "printer-paper-jam-and-toner"
        models = {m["version"]: m["encoder"] for m in client.get("/v1/models").json()}
        assert models[tuned.version] == described["name"] and models[frozen.version] == "all-MiniLM-L6-v2"

        rolled = client.post("/v1/models/rollback")
        assert rolled.status_code == 200 and rolled.json()["active"] == frozen.version
        assert serving.encoder.name == "all-MiniLM-L6-v2" == serving.knowledge.encoder_name
        answer = client.post("/v1/suggest", json={"subject": "I forgot my VPN password"}).json()
        assert answer["bundle_version"] == frozen.version

        bad = client.post("/v1/models/train", json={"finetune_minutes": 0})
        assert bad.status_code == 422 and "finetune_minutes" in bad.json()["field"], bad.text
