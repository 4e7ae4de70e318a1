"""The HTTP API through Litestar's test client, over real databases, the real encoder and a real bundle."""

from __future__ import annotations

import logging

import pytest

from api.app import create_app
from api.limits import MAX_JSON_DEPTH
from tests.conftest import keyed_client

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(demo_settings, encoder):
    """One app per module and backend over the shared demo deployment (the tests only add to it)."""
    with keyed_client(create_app(demo_settings, encoder=encoder)) as client:
        yield client


@pytest.fixture
def empty_client(settings, encoder):
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        yield client


def test_health_ready_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["bundle_version"]
    schema = client.get("/schema/openapi.json").json()
    assert {"/v1/suggest", "/v1/tickets", "/v1/articles", "/v1/articles/{slug}"} <= set(schema["paths"])


def test_suggest_for_a_forgotten_vpn_password(client):
    response = client.post("/v1/suggest", json={"subject": "I forgot my VPN password", "top_k": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["bundle_version"] == client.get("/ready").json()["bundle_version"]
    assert body["articles"][0]["slug"] == "i-forgot-my-vpn-password"
    assert body["articles"][0]["url"].startswith("/v1/articles/i-forgot-my-vpn-password#")
    assert len(body["articles"]) == 3 and len(body["similar_tickets"]) == 3
    category = body["predictions"]["category"]
    assert category["label"] in {"Network & VPN", "Accounts & Passwords"}
    assert category["alternatives"] and category["evidence"]["summary"]
    assert category["prediction_set"][0] == category["label"] and category["abstained"] is False
    assert category["bundle_version"] == body["bundle_version"]
    assert {"label", "similarity", "id"} <= set(category["evidence"]["tickets"][0])
    assert body["predictions"]["priority"]["status"] in {"ok", "abstained"}


def test_every_prediction_names_its_most_probable_label_whether_or_not_it_abstains(client):
    drafts = [("I forgot my VPN password", ""), ("hello", "something is wrong"), ("Printer jammed", "tray 2")]
    seen = set()
    for subject, body in drafts:
        for prediction in (
            client.post("/v1/suggest", json={"subject": subject, "body": body}).json()["predictions"].values()
        ):
            top, others = prediction["top"], prediction["alternatives"]
            assert top["probability"] == prediction["confidence"]
            assert all(top["probability"] >= a["probability"] for a in others)  # the next ones
            assert top["label"] not in {a["label"] for a in others}
            if prediction["status"] == "ok":
                assert prediction["label"] == top["label"]
            else:  # label keeps meaning "committed": none, while top still names the most probable one
                assert prediction["label"] is None and top["label"]
            seen.add(prediction["status"])
    assert seen == {"ok", "abstained"}  # both kinds were checked


def test_a_ticket_unlike_the_history_abstains_as_a_new_kind_of_ticket(client):
    body = {"subject": "Recipe request", "body": "How long should I bake a sourdough loaf and at what temperature?"}
    predictions = client.post("/v1/suggest", json=body).json()["predictions"]
    for prediction in predictions.values():
        assert prediction["status"] == "abstained" and prediction["label"] is None
        assert prediction["reason"].startswith("a new kind of ticket: ")
        assert prediction["top"]["label"]  # the best guess is still named


def test_dutch_and_german_drafts_find_their_topic(client):
    nl = client.post("/v1/suggest", json={"subject": "Ik ben mijn wachtwoord vergeten", "body": "Kestrel ID"}).json()
    assert {"wachtwoord-vergeten-kestrel-id", "forgot-kestrel-id-password"} & {a["slug"] for a in nl["articles"][:3]}
    de = client.post("/v1/suggest", json={"subject": "Rechnung herunterladen", "body": "Wo finde ich meine Rechnung?"})
    assert de.json()["predictions"]["category"]["label"] == "Billing & Invoices"


def test_a_fresh_portal_decides_nothing_fits_from_its_own_kb(client):
    """No portal outcome exists yet: the demo KB's 40 articles calibrate "nothing fits" (not the floor)."""
    answers = {
        text: client.post("/v1/portal/suggest", json={"subject": text}).json()
        for text in ("I forgot my VPN password", "qwxz vbnm zzkv plorf", "How do I bake sourdough bread?")
    }
    assert {a["decided_by"] for a in answers.values()} == {"kb"}
    known = answers["I forgot my VPN password"]
    assert not known["nothing_fits"] and known["articles"][0]["slug"] == "i-forgot-my-vpn-password"
    assert known["nothing_fits_probability"] < 0.5
    for text in ("qwxz vbnm zzkv plorf", "How do I bake sourdough bread?"):
        assert answers[text]["nothing_fits"] and answers[text]["nothing_fits_probability"] >= 0.5, text


def test_ticket_is_stored_with_its_suggestion(client):
    created = client.post(
        "/v1/tickets",
        json={"subject": "Printer on 2nd floor jammed", "body": "Paper stuck in tray 2", "channel": "portal"},
    )
    assert created.status_code == 201
    ticket = created.json()
    assert ticket["status"] == "new" and ticket["channel"] == "portal"
    assert ticket["suggestion"]["bundle_version"]
    assert ticket["suggestion"]["predictions"]["category"]["label"] == "Printing"
    fetched = client.get(f"/v1/tickets/{ticket['id']}").json()
    assert fetched["suggestion"]["id"] == ticket["suggestion"]["id"]
    assert fetched["subject"] == "Printer on 2nd floor jammed"


def test_article_lifecycle_renders_safe_html(client):
    created = client.post(
        "/v1/articles",
        json={
            "slug": "api-test-article",
            "title": "API test",
            "body": "## Steps\nDo it <script>x()</script>",
            "status": "published",
            "tags": ["test"],
        },
    )
    assert created.status_code == 201
    article = created.json()
    assert article["revision"] == 1 and "<script>" not in article["html"]
    assert '<h2 id="steps">Steps</h2>' in article["html"]

    updated = client.put("/v1/articles/api-test-article", json={"title": "API test", "body": "## Steps\nNew text"})
    assert updated.status_code == 200
    assert updated.json()["revision"] == 2 and updated.json()["status"] == "published"
    assert client.get("/v1/articles/api-test-article").json()["body_markdown"].startswith("## Steps\nNew text")

    page = client.get("/v1/articles", params={"status": "published", "limit": 5, "offset": 0}).json()
    assert page["total"] >= 30 and len(page["items"]) == 5


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "field"),
    [
        ("post", "/v1/suggest", {}, 422, "subject"),
        ("post", "/v1/suggest", {"subject": "  ", "body": ""}, 422, "subject"),
        ("post", "/v1/suggest", {"subject": 42}, 422, "subject"),
        ("post", "/v1/suggest", {"subject": "vpn", "top_k": 0}, 422, "top_k"),
        ("post", "/v1/suggest", {"subject": "vpn", "colour": "red"}, 422, "colour"),
        ("post", "/v1/tickets", {"body": ""}, 422, "subject"),
        ("post", "/v1/tickets", {"subject": ["list"]}, 422, "subject"),
        ("get", "/v1/tickets/999999", None, 404, "ticket_id"),
        ("get", "/v1/tickets/0", None, 422, "ticket_id"),
        ("get", "/v1/articles?limit=abc", None, 422, "limit"),
        ("get", "/v1/articles?status=live", None, 422, "status"),
        ("get", "/v1/articles/no-such-article", None, 404, "slug"),
        ("put", "/v1/articles/no-such-article", {"title": "t", "body": "b"}, 404, "slug"),
        ("post", "/v1/articles", {"slug": "Bad Slug", "title": "t", "body": "b"}, 422, "slug"),
        ("post", "/v1/articles", {"slug": "ok-slug", "title": "t", "body": "b", "status": "live"}, 422, "status"),
        ("post", "/v1/articles", {"slug": "ok-slug", "title": "t"}, 422, "body"),
        ("post", "/v1/articles", {"slug": "i-forgot-my-vpn-password", "title": "t", "body": "b"}, 409, "slug"),
        ("get", "/v1/articles?limit=0", None, 422, "limit"),
        ("get", "/v1/tickets?status=lost", None, 422, "status"),
        ("get", "/v1/tickets?limit=500", None, 422, "limit"),
        ("get", "/v1/analytics/volume?bucket=month", None, 422, "bucket"),
        ("get", "/v1/analytics/volume?top=0", None, 422, "top"),
        ("get", "/v1/models/no-such-version/curves", None, 404, "version"),
        ("get", "/v1/kb/search", None, 400, "q"),  # a missing query parameter is named, not "body"
        ("get", "/v1/models/diff?old=x", None, 400, "new"),
    ],
)
def test_bad_input_gets_problem_details_naming_the_field(client, method, url, payload, status, field):
    response = getattr(client, method)(url, **({"json": payload} if payload is not None else {}))
    assert response.status_code == status
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    assert problem["field"] == field


def test_malformed_json_is_a_400_about_the_body(client):
    response = client.post("/v1/suggest", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == "body"


NESTED = b'{"subject": ' + b"[" * 1000 + b"]" * 1000 + b"}"  # 2 KB that made the JSON decoder recurse


@pytest.mark.parametrize("path", ["/v1/suggest", "/v1/portal/suggest", "/v1/tickets/1/assist/feedback"])
def test_deeply_nested_json_is_a_400_about_the_body_and_logs_no_traceback(client, path, caplog):
    with caplog.at_level(logging.WARNING):
        response = client.post(path, content=NESTED, headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["field"] == "body" and f"deeper than {MAX_JSON_DEPTH} levels" in problem["detail"]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    # brackets inside strings are text, not nesting
    assert client.post("/v1/suggest", json={"subject": "[[{{" * 40 + " vpn"}).status_code == 200


def test_help_pages_answer_alike_for_draft_archived_and_unknown_articles(client):
    for slug in ("help-draft-page", "help-archived-page"):
        created = client.post("/v1/articles", json={"slug": slug, "title": "Secret plans", "body": "Not yet."})
        assert created.status_code == 201, created.text
    assert client.post("/v1/articles/help-archived-page/archive").status_code == 200
    answers = [client.get(f"/help/{slug}") for slug in ("help-draft-page", "help-archived-page", "help-unknown-page")]
    assert {a.status_code for a in answers} == {404}
    bodies = [{k: v for k, v in a.json().items() if k != "instance"} for a in answers]
    assert bodies[0] == bodies[1] == bodies[2]  # nothing tells an unpublished article from none


def test_without_a_bundle_intake_works_and_predictions_are_unavailable(empty_client):
    assert empty_client.get("/ready").status_code == 503
    answer = empty_client.post("/v1/suggest", json={"subject": "vpn down"}).json()
    assert answer["bundle_version"] is None and answer["articles"] == []
    assert answer["predictions"]["category"]["status"] == "unavailable"
    created = empty_client.post("/v1/tickets", json={"subject": "vpn down"})
    assert created.status_code == 201
    assert created.json()["suggestion"]["predictions"]["priority"]["status"] == "unavailable"


def test_duplicate_external_id_is_a_conflict_and_stores_nothing_more(client):
    first = client.post("/v1/tickets", json={"subject": "Mail bounces", "external_id": "CRM-77"})
    assert first.status_code == 201
    again = client.post("/v1/tickets", json={"subject": "Mail bounces again", "external_id": "CRM-77"})
    assert again.status_code == 409 and again.json()["field"] == "external_id"
    assert client.get(f"/v1/tickets/{first.json()['id'] + 1}").status_code == 404


def test_oversized_body_is_refused_with_problem_details(client):
    response = client.post(
        "/v1/suggest", content=b'{"body": "' + b"x" * 2_000_000 + b'"}', headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["field"] == "body"


def test_bodies_must_be_json_and_cors_is_off_by_default(empty_client):
    refused = empty_client.post("/v1/suggest", content=b"subject=vpn", headers={"content-type": "text/plain"})
    assert refused.status_code == 415 and refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["field"] == "content-type" and "application/json" in refused.json()["detail"]
    form = empty_client.post("/v1/tickets", data={"subject": "vpn"})  # a form post
    assert form.status_code == 415
    assert empty_client.post("/v1/admin/reload").status_code == 200  # no body, no content type needed
    preflight = empty_client.options(
        "/v1/portal/suggest",
        headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_allows_only_the_configured_origins(settings, encoder):
    from dataclasses import replace

    settings = replace(settings, api=replace(settings.api, cors_origins=("https://portal.example.com",)))
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        asked = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        allowed = client.options("/v1/portal/suggest", headers={"origin": "https://portal.example.com", **asked})
        assert allowed.headers["access-control-allow-origin"] == "https://portal.example.com"
        other = client.options("/v1/portal/suggest", headers={"origin": "https://evil.example", **asked})
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
