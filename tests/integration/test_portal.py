"""Portal suggestions, deflection events and analytics, KB search and live index updates, over real HTTP."""

from __future__ import annotations

from dataclasses import replace

import pytest
from litestar.testing import TestClient

from api.app import create_app
from tests.conftest import keyed_client

VPN = """# Reset your VPN password

## Reset it yourself
Open the Kestrel ID portal, choose Forgot password and follow the e-mail link.

## Still locked out
Call the service desk on extension 4000; they can unlock your account.
"""
TONER = """## Replace the toner
Open the front door of the printer, shake the new toner cartridge and push it in until it clicks.
"""
DRAFT = """## VPN client release notes
The next GlobalProtect VPN client changes how forgotten passwords are reset.
"""


@pytest.fixture
def client(settings, encoder):
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        _add_articles(client)
        yield client


def _add_articles(client: TestClient) -> None:
    for slug, title, body, status in (
        ("vpn-password", "VPN password", VPN, "published"),
        ("replace-toner", "Replace the toner", TONER, "published"),
        ("vpn-release-notes", "VPN release notes", DRAFT, "draft"),
    ):
        response = client.post("/v1/articles", json={"slug": slug, "title": title, "body": body, "status": status})
        assert response.status_code == 201, response.text


def _portal(client, subject: str) -> dict:
    response = client.post("/v1/portal/suggest", json={"subject": subject})
    assert response.status_code == 200, response.text
    return response.json()


def test_portal_shows_published_articles_and_nothing_when_nothing_fits(client):
    answer = _portal(client, "I forgot my VPN password")
    assert answer["nothing_fits"] is False and answer["suggestion_id"]
    slugs = [a["slug"] for a in answer["articles"]]
    assert slugs[0] == "vpn-password" and "vpn-release-notes" not in slugs  # drafts stay off the portal
    top = answer["articles"][0]
    assert top["revision"] == 1 and top["url"].startswith("/v1/articles/vpn-password#")
    assert "<mark>" in top["snippet"] and top["heading"]
    assert set(top) >= {"slug", "title", "heading", "anchor", "snippet", "url", "similarity"}
    assert "similar_tickets" not in answer and "predictions" not in answer  # never ticket content

    assert answer["language"] == "en" and _portal(client, "Ik ben mijn VPN-wachtwoord vergeten")["language"] == "nl"
    unrelated = _portal(client, "What time does the canteen open on Sundays?")
    assert unrelated == {**unrelated, "nothing_fits": True, "articles": []}


def test_events_deflection_per_revision_and_kb_gaps(client):
    first = _portal(client, "I forgot my VPN password")["suggestion_id"]
    for event in ({"type": "shown"}, {"type": "opened", "article": "vpn-password"}):
        assert client.post("/v1/portal/events", json={"suggestion_id": first, **event}).status_code == 201
    helpful = client.post(
        "/v1/portal/events", json={"suggestion_id": first, "type": "helpful", "article": "vpn-password"}
    )
    assert helpful.status_code == 201 and helpful.json()["article_revision"] == 1
    replayed = [  # the portal key is public: a replay is answered but not counted again
        client.post("/v1/portal/events", json={"suggestion_id": first, "type": "helpful", "article": "vpn-password"})
        for _ in range(5)
    ]
    assert {(r.status_code, r.json()["id"]) for r in replayed} == {(200, helpful.json()["id"])}
    again = client.post("/v1/portal/events", json={"suggestion_id": first, "type": "shown"})
    assert again.status_code == 200

    edited = client.put("/v1/articles/vpn-password", json={"title": "VPN password", "body": VPN + "\nUpdated."})
    assert edited.json()["revision"] == 2
    second = _portal(client, "VPN password forgotten, locked out")
    assert second["articles"][0]["revision"] == 2  # the edit is searchable at once, no retrain
    body = {"suggestion_id": second["suggestion_id"], "type": "not_helpful", "article": "vpn-password"}
    assert client.post("/v1/portal/events", json=body).json()["article_revision"] == 2
    body = {"suggestion_id": second["suggestion_id"], "type": "ticket_filed"}
    assert client.post("/v1/portal/events", json=body).status_code == 201
    for subject in ("The canteen coffee machine is broken", "Coffee machine in the canteen leaks water"):
        gap = _portal(client, subject)
        client.post("/v1/portal/events", json={"suggestion_id": gap["suggestion_id"], "type": "ticket_filed"})

    report = client.get("/v1/analytics/deflection").json()
    assert report["sessions"] == 4 and report["tickets_filed"] == 3 and report["deflected"] == 1
    assert report["deflection_rate"] == pytest.approx(1 / report["sessions_with_articles"], abs=1e-4)
    revisions = {(r["slug"], r["revision"]): r for r in report["revisions"]}
    assert revisions[("vpn-password", 1)]["deflected"] == 1 and revisions[("vpn-password", 1)]["helpful"] == 1
    assert revisions[("vpn-password", 2)]["not_helpful"] == 1 and revisions[("vpn-password", 2)]["deflected"] == 0
    assert next(a for a in report["articles"] if a["slug"] == "vpn-password")["shown"] == 2
    gap = report["kb_gaps"][0]
    assert gap["rank"] == 1 and gap["size"] == 2 and all("canteen" in e.lower() for e in gap["examples"])


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"suggestion_id": "0" * 32, "type": "helpful", "article": "vpn-password"}, 404, "suggestion_id"),
        ({"type": "clicked"}, 422, "type"),
        ({"type": "helpful"}, 422, "article"),
        ({"type": "helpful", "article": "replace-toner-2"}, 422, "article"),
    ],
)
def test_bad_events_are_refused_with_the_field_at_fault(client, payload, status, field):
    suggestion = _portal(client, "I forgot my VPN password")["suggestion_id"]
    response = client.post("/v1/portal/events", json={"suggestion_id": suggestion, **payload})
    assert response.status_code == status and response.json()["field"] == field
    report = client.get("/v1/analytics/deflection").json()
    assert report["sessions"] == 1 and not any(a["opened"] or a["helpful"] for a in report["articles"])


def test_agent_search_sees_drafts_and_archiving_removes_an_article_at_once(client):
    results = client.get("/v1/kb/search", params={"q": "forgotten VPN password"}).json()["results"]
    assert {"vpn-password", "vpn-release-notes"} <= {r["slug"] for r in results}
    assert client.get("/v1/kb/search", params={"q": "  "}).json()["field"] == "q"
    archived = client.put(
        "/v1/articles/vpn-password", json={"title": "VPN password", "body": VPN, "status": "archived"}
    )
    assert archived.status_code == 200
    assert "vpn-password" not in [a["slug"] for a in _portal(client, "I forgot my VPN password")["articles"]]
    results = client.get("/v1/kb/search", params={"q": "forgotten VPN password"}).json()["results"]
    assert "vpn-password" not in {r["slug"] for r in results}


def test_publish_archive_delete_and_every_revision_readable(client):
    assert client.post("/v1/articles/vpn-release-notes/publish").json()["status"] == "published"
    assert _portal(client, "GlobalProtect VPN client release notes")["articles"][0]["slug"] == "vpn-release-notes"
    client.put("/v1/articles/vpn-release-notes", json={"title": "VPN release notes", "body": DRAFT + "\nMore."})
    history = client.get("/v1/articles/vpn-release-notes/revisions").json()
    assert history["current_revision"] == 2 and [r["revision"] for r in history["revisions"]] == [1, 2]
    first = client.get("/v1/articles/vpn-release-notes/revisions/1").json()
    assert first["body_markdown"].strip() == DRAFT.strip() and "<h2" in first["html"]
    missing = client.get("/v1/articles/vpn-release-notes/revisions/9")
    assert missing.status_code == 404 and missing.json()["field"] == "revision"

    assert client.post("/v1/articles/vpn-release-notes/archive").json()["status"] == "archived"
    assert "vpn-release-notes" not in [a["slug"] for a in _portal(client, "VPN client release notes")["articles"]]
    assert client.delete("/v1/articles/replace-toner").status_code == 204
    assert client.get("/v1/articles/replace-toner").status_code == 404
    assert "replace-toner" not in [a["slug"] for a in _portal(client, "replace the printer toner")["articles"]]
    assert client.post("/v1/articles/nope/publish").status_code == 404


def test_a_huge_article_is_refused_with_413_and_nothing_is_stored(client):
    body = "## Huge\n" + "word " * 50_000  # 250,000 characters: over the KB limit, under the request limit
    response = client.post("/v1/articles", json={"slug": "huge", "title": "Huge", "body": body})
    assert response.status_code == 413 and response.json()["field"] == "body"
    assert client.get("/v1/articles/huge").status_code == 404
    edit = client.put("/v1/articles/vpn-password", json={"title": "VPN password", "body": body})
    assert edit.status_code == 413
    assert client.get("/v1/articles/vpn-password/revisions").json()["current_revision"] == 1


@pytest.fixture
def lenient_client(settings, encoder):
    """A portal whose similarity floor lets loosely related articles through, refitting at every refresh."""
    models = replace(settings.models, kb_min_similarity=0.2, kb_refit_seconds=0)
    with keyed_client(create_app(replace(settings, models=models), encoder=encoder)) as client:
        _add_articles(client)
        yield client


def test_nothing_fits_is_learned_from_portal_outcomes(lenient_client):
    from tests.unit.triage.test_nothing_fits import TONER, VPN_DROPS, VPN_PASSWORD
    from triage.knowledge.nothing_fits import portal_outcomes

    client = lenient_client
    serving = client.app.state.serving
    before = _portal(client, "The VPN drops out during meetings")
    assert before["decided_by"] == "similarity" and before["nothing_fits_probability"] is None
    assert before["articles"][0]["slug"] == "vpn-password"  # similarity alone shows the wrong article
    outcomes = [(t, "vpn-password") for t in VPN_PASSWORD] + [(t, "replace-toner") for t in TONER]
    for subject, helped in [*outcomes, *[(t, None) for t in VPN_DROPS]]:
        answer = _portal(client, subject)
        assert not answer["nothing_fits"], subject  # shown something, so the outcome says whether it fitted
        events = [{"type": "helpful", "article": helped}] if helped else [{"type": "ticket_filed"}]
        for event in [{"type": "shown"}, *events]:
            response = client.post("/v1/portal/events", json={"suggestion_id": answer["suggestion_id"], **event})
            assert response.status_code == 201, response.text
    left = _portal(client, "Printer toner is low")  # shown but no outcome: it says nothing
    client.post("/v1/portal/events", json={"suggestion_id": left["suggestion_id"], "type": "shown"})
    filed = _portal(client, "I forgot my VPN password")  # helpful, then filed anyway: nothing helped
    for event in ({"type": "helpful", "article": "vpn-password"}, {"type": "ticket_filed"}):
        client.post("/v1/portal/events", json={"suggestion_id": filed["suggestion_id"], **event})
    with serving.sessions() as session:
        recorded = portal_outcomes(session, limit=1000)
        assert len(portal_outcomes(session, limit=5)) == 5
    assert len(recorded) == 37 and recorded[-1] == ("I forgot my VPN password", None)
    assert recorded[0] == (VPN_PASSWORD[0], "vpn-password")

    serving.fits_nothing_fits = False  # a replica on the job queue: it waits for a worker's shared fit
    assert not serving.refresh_knowledge_now() and serving.knowledge.nothing_fits is None
    serving.fits_nothing_fits = True
    assert serving.refresh_knowledge_now()  # what the poll does once the refit interval has passed
    assert serving.knowledge.nothing_fits.describe()["outcomes"] == 37
    shared = list((serving.embedding_cache().path.parent / "nothing-fits").glob("*.npz"))
    assert shared  # what the other processes read instead of fitting again
    gap = _portal(client, "The VPN drops out during meetings")
    assert gap["decided_by"] == "outcomes" and gap["nothing_fits"] and gap["nothing_fits_probability"] >= 0.5
    known = _portal(client, "Where do I reset the password of the VPN?")
    assert not known["nothing_fits"] and known["articles"][0]["slug"] == "vpn-password"
    assert known["nothing_fits_probability"] < 0.5
    model = serving.knowledge.nothing_fits
    edited = client.put("/v1/articles/vpn-password", json={"title": "VPN password", "body": VPN + "\nUpdated."})
    assert edited.status_code == 200 and edited.json()["revision"] == 2
    assert serving.knowledge.nothing_fits is model  # an article edit keeps the model: no refit per edit
    assert _portal(client, "The VPN drops out during meetings")["nothing_fits"]
