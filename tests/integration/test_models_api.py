"""The model lifecycle over real HTTP: retrain on resolved tickets, gate, promote, roll back, diff."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.app import create_app
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import DEMO_FIELDS, keyed_client
from triage.bundles.promotion import SAME_SPLIT
from triage.bundles.registry import list_versions
from triage.bundles.training import KIND, train_bundle

VPN_TICKETS = [  # the network team now owns VPN tickets: agents resolve them with the new assignee
    ("VPN drops every few minutes", "The GlobalProtect VPN disconnects from home, site {n}"),
    ("Cannot connect to the VPN", "VPN says the gateway is unreachable, office {n}"),
    ("VPN very slow", "File shares over the VPN crawl since Monday, laptop {n}"),
]


@pytest.fixture
def world(backend, deployments, tmp_path):
    """A database with the demo history and a first bundle, written but not yet active."""
    settings = deployments.copy(backend, "candidate", tmp_path)
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        (first,) = list_versions(session, KIND)
        assert first.state == "candidate"
    yield settings, sessions, first.version
    engine.dispose()


def test_retrain_gate_promote_rollback_and_diff(world, encoder):
    settings, sessions, first = world
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        assert client.get("/ready").status_code == 503  # a candidate is not served
        promoted = client.post(f"/v1/models/{first}/promote")
        assert promoted.status_code == 200, promoted.text
        assert promoted.json()["gate"]["basis"] == "no active bundle"
        assert client.get("/ready").json()["bundle_version"] == first  # this process swapped at once

        for n in range(8):
            for subject, body in VPN_TICKETS:
                ticket = client.post("/v1/tickets", json={"subject": subject, "body": body.format(n=n)}).json()
                resolved = client.post(
                    f"/v1/tickets/{ticket['id']}/resolve",
                    json={
                        "resolution": "Network team rerouted the VPN gateway.",
                        "category": "Network & VPN",
                        "priority": "high",
                        "assignee": "Network Team",
                        "actor": "ann",
                    },
                )
                assert resolved.status_code == 200, resolved.text

        with session_scope(sessions) as session:
            second = train_bundle(session, encoder, settings.models.artifacts_dir, activate=False).version
            empty = train_bundle(
                session, encoder, settings.models.artifacts_dir, activate=False, since=datetime(2100, 1, 1, tzinfo=UTC)
            ).version

        gate = client.get(f"/v1/models/{second}/gate").json()
        assert gate["active"] == first and gate["basis"] == SAME_SPLIT and gate["rows"] == 24
        assert gate["libraries"]["compatible"] and set(gate["fields"]) == DEMO_FIELDS
        assert gate["label_changes"]["assignee"] == {"added": ["Network Team"], "removed": []}
        assignee = gate["fields"]["assignee"]
        assert assignee["candidate"] is not None and assignee["active"] is not None

        shadow = client.get(f"/v1/models/{second}/shadow", params={"last": 40}).json()
        assert shadow["replayed"] == 40 and shadow["active"] == first
        assignee = shadow["fields"]["assignee"]
        assert assignee["labelled"] == 40 and 0 <= assignee["agreement"] <= 1
        assert assignee["changed"]["total"] == len(assignee["examples"]) or len(assignee["examples"]) == 5
        assert assignee["changed"]["fixed"] >= 1  # trained on the new routing, it predicts "Network Team"
        assert any(e["candidate"] == "Network Team" and e["final"] == "Network Team" for e in assignee["examples"])

        refused = client.post(f"/v1/models/{empty}/promote")
        assert refused.status_code == 409 and refused.json()["field"] == "version"
        assert any("would become unavailable" in e["detail"] for e in refused.json()["errors"])
        assert client.get("/ready").json()["bundle_version"] == first  # nothing changed

        forced = client.post(f"/v1/models/{second}/promote", json={"force": True})
        assert forced.status_code == 200, forced.text
        assert client.get("/ready").json()["bundle_version"] == second
        states = {v["version"]: v["state"] for v in client.get("/v1/models").json()}
        assert states == {first: "retired", second: "active", empty: "candidate"}

        diff = client.get("/v1/models/diff", params={"old": first, "new": second}).json()
        assert diff["training_set"]["new"]["rows"] == diff["training_set"]["old"]["rows"] + 24
        assert diff["label_changes"]["assignee"]["added"] == ["Network Team"]
        assert set(diff["metrics"]["category"]) >= {"oof_accuracy", "holdout_accuracy"}

        back = client.post("/v1/models/rollback")
        assert back.status_code == 200 and back.json() == {"active": first}
        assert client.get("/ready").json()["bundle_version"] == first
        reload = client.post("/v1/admin/reload").json()
        assert reload == {"swapped": False, "bundle_version": first}

        for response, status in (
            (client.post("/v1/models/no-such-version/promote"), 404),
            (client.get("/v1/models/no-such-version/gate"), 404),
            (client.get("/v1/models/diff", params={"old": first, "new": "nope"}), 404),
            (client.post(f"/v1/models/{first}/promote"), 409),  # already active
        ):
            assert response.status_code == status and response.json()["field"] == "version", response.text


def test_training_runs_as_a_background_job(world, encoder):
    import time

    settings, _, first = world
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        started = client.post("/v1/models/train", json={"promote": True})
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["state"] == "queued" and job["url"] == f"/v1/jobs/{job['id']}"
        busy = client.post("/v1/models/train")
        assert busy.status_code == 409 and busy.json()["field"] == "kind"
        seen = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            state = client.get(job["url"]).json()
            seen.add(state["state"])
            if state["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.2)
        assert state["state"] == "succeeded", state["error"]
        assert "running" in seen and state["progress"]["step"] == "promote"
        result = state["result"]
        assert result["promoted"] is True and result["gate"]["basis"] == "no active bundle"  # first was a candidate
        assert {v["version"]: v["state"] for v in client.get("/v1/models").json()}[result["version"]] == "active"
        assert state["params"]["promote"] is True and state["finished_at"] and result["version"] != first
        assert client.get("/v1/jobs/no-such-job").status_code == 404
