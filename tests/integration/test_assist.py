"""Agent assist over real HTTP on the demo data: replies that cite their sources and invent nothing,
macros, similar and duplicate tickets, merging, feedback, and incident spikes."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from models import OutboxEvent, Ticket
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import keyed_client
from triage.assist.duplicates import ticket_vectors
from triage.assist.incidents import SpikeSettings, record_incidents, spike_candidates
from triage.ml.embedding_cache import EmbeddingCache
from triage.text.redaction import Redactor

VPN = {"subject": "VPN keeps disconnecting", "body": "GlobalProtect drops every 10 minutes since this morning"}


@pytest.fixture(scope="module")
def client(demo_settings, encoder):
    """One app per module and backend over the shared demo deployment (the tests only add to it)."""
    with keyed_client(create_app(demo_settings, encoder=encoder), "agent") as client:
        yield client


def _source_texts(client, reply) -> str:
    texts = []
    for source in reply["sources"]:
        if source["type"] == "ticket":
            texts.append(client.app.state.serving.bundle.tickets[source["id"]]["resolution"])
        else:
            texts.append(client.get(f"/v1/articles/{source['slug']}").json()["body_markdown"])
    return " ".join(" ".join(texts).split())


def test_replies_cite_their_sources_and_every_sentence_comes_from_one(client):
    ticket = client.post("/v1/tickets", json={**VPN, "requester": "tim.hendriks@example.nl"}).json()
    answer = client.get(f"/v1/tickets/{ticket['id']}/assist")
    assert answer.status_code == 200, answer.text
    replies = answer.json()["replies"]
    assert 1 <= len(replies) <= 3
    assert {s["type"] for r in replies for s in r["sources"]} == {"ticket", "article"}
    assert [r["score"] for r in replies] == sorted((r["score"] for r in replies), reverse=True)
    for reply in replies:
        sources = _source_texts(client, reply)
        for sentence in re.split(r"(?<=[.!?])\s+", reply["text"]):
            assert sentence.strip() in sources, sentence
        for source in reply["sources"]:
            assert source["type"] == "ticket" or {"slug", "revision", "heading"} <= set(source)


def test_replies_are_in_the_tickets_language_when_history_has_it(client):
    ticket = client.post("/v1/tickets", json={"subject": "outlook haalt geen mail op", "body": "sinds vanochtend"})
    replies = client.get(f"/v1/tickets/{ticket.json()['id']}/assist").json()["replies"]
    assert replies and {r["language"] for r in replies} == {"nl"}


def test_macros_fill_placeholders_count_usage_and_refuse_unknown_ones(client):
    body = (
        "Hi {{requester.first_name}},\n\nPlease restart GlobalProtect and reboot; VPN drops are usually fixed by that."
    )
    macro = client.post("/v1/macros", json={"title": "VPN drops: reconnect", "body": body})
    assert macro.status_code == 201 and macro.json()["placeholders"] == ["requester.first_name"]
    unknown = client.post("/v1/macros", json={"title": "x", "body": "Dear {{customer.name}}"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "body" and "customer.name" in unknown.text
    ticket = client.post("/v1/tickets", json={**VPN, "requester": "tim.hendriks@example.nl"}).json()
    suggested = client.get(f"/v1/tickets/{ticket['id']}/assist").json()["macros"]
    mine = next(m for m in suggested if m["id"] == macro.json()["id"])
    assert mine["filled"].startswith("Hi Tim,") and mine["unfilled"] == []
    used = client.post(f"/v1/tickets/{ticket['id']}/assist/feedback", json={"macro_id": mine["id"], "action": "used"})
    assert used.status_code == 201
    assert client.get(f"/v1/macros/{mine['id']}").json()["usage_count"] == 1
    edited = client.put(f"/v1/macros/{mine['id']}", json={"title": "VPN drops", "body": body})
    assert edited.status_code == 200 and edited.json()["title"] == "VPN drops"
    assert client.delete(f"/v1/macros/{mine['id']}").status_code == 204
    assert client.get(f"/v1/macros/{mine['id']}").status_code == 404


def test_reply_feedback_shows_in_analytics(client):
    ticket = client.post("/v1/tickets", json=VPN).json()
    reply = client.get(f"/v1/tickets/{ticket['id']}/assist").json()["replies"][0]
    feedback = {"reply_id": reply["id"], "sources": reply["sources"], "action": "edited"}
    assert client.post(f"/v1/tickets/{ticket['id']}/assist/feedback", json=feedback).status_code == 201
    bad = client.post(f"/v1/tickets/{ticket['id']}/assist/feedback", json={**feedback, "action": "loved"})
    assert bad.status_code == 422 and bad.json()["field"] == "action"
    analyst = {"authorization": f"Bearer {_key(client, 'analyst')}"}
    report = client.get("/v1/analytics/assist", headers=analyst).json()
    assert report["reply"]["edited"] >= 1 and report["reply"]["used_rate"] > 0
    assert report["top_sources"]


def _key(client, role: str) -> str:
    from tests.conftest import new_key

    return new_key(client.app.state.serving.sessions, role)


def test_similar_finds_what_was_done_and_open_duplicates_then_merges(client):
    first = client.post("/v1/tickets", json=VPN).json()
    second = client.post(
        "/v1/tickets", json={"subject": "VPN disconnecting", "body": "GlobalProtect drops all the time"}
    )
    second = second.json()
    similar = client.get(f"/v1/tickets/{first['id']}/similar").json()
    assert similar["resolved"] and similar["resolved"][0]["resolution"]
    duplicates = {d["id"]: d["similarity"] for d in similar["duplicates"]}
    assert second["id"] in duplicates and duplicates[second["id"]] >= similar["threshold"]

    assert client.post(f"/v1/tickets/{second['id']}/merge", json={"primary_id": second["id"]}).status_code == 409
    merged = client.post(f"/v1/tickets/{second['id']}/merge", json={"primary_id": first["id"]})
    assert merged.status_code == 200 and merged.json()["merged_into_id"] == first["id"]
    assert merged.json()["status"] == "closed" and merged.json()["requester_notified_at"]
    assert client.get(f"/v1/tickets/{second['id']}").json()["sla"]["state"] == "closed"  # its clock stopped
    with session_scope(client.app.state.serving.sessions) as session:  # webhook subscribers hear of it
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject == f"ticket:{second['id']}").order_by(OutboxEvent.id.desc())
        ).first()
        assert event.type == "ticket.updated" and event.payload["changes"]["merged_into_id"] == first["id"]
    again = client.post(f"/v1/tickets/{second['id']}/merge", json={"primary_id": first["id"]})
    assert again.status_code == 409
    third = client.post("/v1/tickets", json=VPN).json()
    into_merged = client.post(f"/v1/tickets/{third['id']}/merge", json={"primary_id": second["id"]})
    assert into_merged.status_code == 409 and into_merged.json()["field"] == "primary_id"
    history = client.get(f"/v1/tickets/{second['id']}").json()
    assert history["merged_into_id"] == first["id"] and history["subject"] == "VPN disconnecting"
    after = client.get(f"/v1/tickets/{first['id']}/similar").json()["duplicates"]
    assert second["id"] not in {d["id"] for d in after}


def test_assist_for_an_unknown_ticket_is_404(client):
    for path in ("assist", "similar"):
        answer = client.get(f"/v1/tickets/999999/{path}")
        assert answer.status_code == 404 and answer.json()["field"] == "ticket_id"


BURST = [
    "Cannot log in to Salesforce, SSO error",
    "Salesforce login fails with single sign-on error",
    "SSO error when opening Salesforce",
    "Salesforce says SSO assertion invalid",
    "Can't get into Salesforce - SSO login error",
]


def test_a_burst_of_similar_tickets_is_flagged_and_a_normal_replay_is_not(backend, deployments, tmp_path, encoder):
    """Replay the demo history hour by hour: nothing is flagged. Inject 15 similar tickets within an
    hour: that group is flagged, and recorded as an event once."""
    settings = deployments.copy(backend, "loaded", tmp_path)  # the demo history, its embeddings cached
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
    spike = SpikeSettings()
    with session_scope(sessions) as session:
        tickets = session.scalars(select(Ticket).order_by(Ticket.created_at)).all()
        vectors = lambda ts: ticket_vectors(ts, encoder, cache, Redactor())  # noqa: E731
        hours = sorted({t.created_at.replace(minute=0, second=0, microsecond=0) for t in tickets})
        flagged = [h for h in hours if spike_candidates(session, vectors, now=h + timedelta(hours=1), settings=spike)]
        assert flagged == []
        print(f"\nspike replay: {len(tickets)} demo tickets over {len(hours)} hours with tickets: none flagged")
        start = hours[len(hours) // 2] + timedelta(minutes=2)
        for n in range(15):
            subject = f"{BURST[n % len(BURST)]} ({n})"
            session.add(
                Ticket(subject=subject, body="", content_hash=str(n), created_at=start + timedelta(minutes=3 * n))
            )
        session.flush()
        now = start + timedelta(minutes=50)
        (candidate,) = spike_candidates(session, vectors, now=now, settings=spike)
        assert candidate["size"] == 15 and "Salesforce" in candidate["subject"]
        assert candidate["ratio"] >= spike.min_ratio
        assert len(record_incidents(session, [candidate], now=now)) == 1
        assert record_incidents(session, [candidate], now=now + timedelta(minutes=5)) == []
        print(f"injected burst: {candidate['size']} tickets, {candidate['ratio']}x the baseline rate: flagged")
    engine.dispose()


def test_incident_candidates_over_http(settings, encoder):
    app = create_app(settings, encoder=encoder)
    with keyed_client(app, "agent") as client:
        assert client.get("/v1/incidents/candidates").json()["candidates"] == []
        for n in range(15):
            client.post("/v1/tickets", json={"subject": f"{BURST[n % len(BURST)]} ({n})"})
        candidates = client.get("/v1/incidents/candidates").json()["candidates"]
        assert len(candidates) == 1 and candidates[0]["size"] == 15
        events = client.get("/v1/incidents/events").json()
        assert len(events) == 1 and events[0]["member_ids"] == candidates[0]["member_ids"]
        assert json.dumps(events)  # serialisable
