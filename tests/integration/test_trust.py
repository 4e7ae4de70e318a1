"""Trust over real HTTP: keys and roles on every route, rate limits, the audit trail, redaction before
anything enters a bundle or a stored draft, and GDPR export and erasure."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import replace
from pathlib import Path

import anyio
import pytest
from litestar.testing import TestClient
from sqlalchemy import select

from api.access_table import markdown_table, route_roles
from api.app import create_app
from models import ApiKey, IncidentEvent, PortalSuggestion, Ticket
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, ROOT, keyed_client, make_settings, new_key
from tests.deployments import Snapshot
from triage.bundles.snapshot import training_snapshot
from triage.bundles.training import train_bundle
from triage.ml.embedding_cache import EmbeddingCache
from triage.text.texts import ticket_text

ROLES = ("portal", "agent", "analyst", "admin")
PATTERNS = {"contract": r"\bCT-\d{6}\b"}  # an operator's own redaction pattern
PATH_VALUES = {
    "ticket_id": "999999",
    "slug": "no-such-article",
    "number": "1",
    "version": "no-such-version",
    "job_id": "nojob",
    "key_id": "999999",
    "macro_id": "999999",
    "webhook_id": "999999",
    "delivery_id": "999999",
    "name": "no-such-connector",
    "file_path": "portal-widget.js",
}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda m: PATH_VALUES[m.group(1)], path)


@pytest.fixture
def app(settings, encoder):
    return create_app(settings, encoder=encoder)


def test_every_route_needs_a_key_with_an_allowed_role(app):
    with TestClient(app) as client:
        keys = {role: new_key(app.state.serving.sessions, role) for role in ROLES}
        routes = route_roles(app)
        assert len(routes) >= 35
        for method, path, allowed in routes:
            url = _url(path)
            body = {"json": {"not_a_field": 1}} if method in {"POST", "PUT", "PATCH"} else {}
            if allowed is None:  # no key needed (/ready: 503 with no bundle; /help/no-such-article: 404)
                assert client.request(method, url).status_code in {200, 404, 503}, url
                continue
            anonymous = client.request(method, url, **body)
            assert anonymous.status_code == 401, (method, url)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            for role in ROLES:
                answer = client.request(method, url, headers={"authorization": f"Bearer {keys[role]}"}, **body)
                if role in allowed:
                    assert answer.status_code not in {401, 403}, (role, method, url, answer.text)
                    assert answer.status_code < 500, (role, method, url, answer.text)
                else:
                    assert answer.status_code == 403, (role, method, url)
                    assert answer.json()["field"] == "authorization"


def test_the_readme_role_table_is_generated_from_the_guards(app):
    assert markdown_table(app) in (ROOT / "README.md").read_text()


def test_keys_are_stored_hashed_shown_once_revoked_at_once_and_never_echoed(app, caplog):
    caplog.set_level(logging.DEBUG)
    with keyed_client(app) as admin:
        created = admin.post("/v1/keys", json={"role": "agent", "name": "ann"})
        assert created.status_code == 201, created.text
        secret = created.json()["key"]
        agent = {"authorization": f"Bearer {secret}"}
        assert admin.post("/v1/suggest", json={"subject": "vpn"}, headers=agent).status_code == 200
        listed = admin.get("/v1/keys").json()
        assert secret not in json.dumps(listed) and all("key" not in k for k in listed)
        with session_scope(app.state.serving.sessions) as session:
            row = session.scalar(select(ApiKey).where(ApiKey.name == "ann"))
            assert secret not in (row.key_hash, row.prefix) and len(row.key_hash) == 64
        assert admin.delete(f"/v1/keys/{created.json()['id']}").status_code == 200
        refused = admin.post("/v1/suggest", json={"subject": "vpn"}, headers=agent)
        assert refused.status_code == 401 and secret not in refused.text
        assert admin.delete(f"/v1/keys/{created.json()['id']}").status_code == 409
        wrong = admin.get("/v1/keys", headers={"authorization": "Bearer hdt_guessed-secret"})
        assert wrong.status_code == 401 and "guessed" not in wrong.text
        assert admin.post("/v1/keys", json={"role": "root", "name": "x"}).json()["field"] == "role"
    assert secret not in caplog.text and "guessed" not in caplog.text


def test_rate_limits_answer_429_with_ratelimit_headers(app):
    with TestClient(app) as client:
        key = new_key(app.state.serving.sessions, "portal", rate_limit=3)
        headers = {"authorization": f"Bearer {key}"}
        answers = [client.post("/v1/portal/suggest", json={"subject": "vpn"}, headers=headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert answers[0].headers["ratelimit-limit"] == "3" and answers[0].headers["ratelimit-policy"] == "3;w=60"
        assert answers[0].headers["ratelimit-reset"] == "60"  # the window opens at the key's first request
        limited = answers[-1]
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert limited.json()["type"].endswith("rate-limited")
        assert client.get("/health").status_code == 200  # public routes are not limited


def test_unknown_keys_are_throttled_by_address_and_a_403_counts_against_the_key(settings, encoder):
    app = create_app(replace(settings, api=replace(settings.api, unknown_key_rate_limit=3)), encoder=encoder)
    with TestClient(app) as client:
        agent = {"authorization": f"Bearer {new_key(app.state.serving.sessions, 'agent', rate_limit=2)}"}
        answers = [client.get("/v1/keys", headers=agent) for _ in range(3)]
        assert [a.status_code for a in answers] == [403, 403, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]
        known = {"authorization": f"Bearer {new_key(app.state.serving.sessions, 'portal')}"}
        assert client.post("/v1/portal/suggest", json={"subject": "vpn"}, headers=known).status_code == 200
        guesses = [client.get("/v1/keys", headers={"authorization": f"Bearer hdt_guess{i}"}) for i in range(5)]
        assert [g.status_code for g in guesses] == [401, 401, 401, 429, 429]  # the last two are not looked up
        assert 0 < int(guesses[-1].headers["retry-after"]) <= 60 and guesses[-1].json()["type"].endswith("rate-limited")
        assert client.post("/v1/portal/suggest", json={"subject": "vpn"}, headers=known).status_code == 200  # cached


def test_the_demo_page_puts_only_a_live_portal_key_into_the_page_and_ignores_the_host_header(app):
    with TestClient(app) as client:
        keys = {role: new_key(app.state.serving.sessions, role) for role in ROLES}

        def page(key: str, **headers: str) -> str:
            answer = client.get("/demo/portal", params={"key": key}, headers=headers)
            assert answer.status_code == 200
            return answer.text

        assert f'data-key="{keys["portal"]}" data-form' in page(keys["portal"])
        for role in ("agent", "analyst", "admin"):  # a public page never holds another role's key
            assert keys[role] not in page(keys[role])
        assert "data-form" not in page(keys["portal"] + "\n")
        hosted = page(keys["portal"], host="evil.example")
        assert "evil.example" not in hosted
        assert f"{app.state.serving.settings.api.base_url()}/static/portal-widget.js" in hosted


def test_what_the_fuzzer_found_stays_fixed(app):
    with keyed_client(app) as client:
        first = client.post("/v1/tickets", json={"subject": "a", "external_id": ""})
        assert first.status_code == 201 and first.json()["created_at"].endswith("Z")
        again = client.post("/v1/tickets", json={"subject": "b", "external_id": ""})
        assert again.status_code == 409 and again.json()["field"] == "external_id"
        too_big = client.get("/v1/tickets/15207633133553956864/feedback")
        assert too_big.status_code == 422 and too_big.json()["field"] == "ticket_id"


def test_strict_json_no_coercion_no_duplicate_keys_no_control_characters(app):
    with keyed_client(app) as client:

        def post(path: str, raw: bytes):
            return client.post(path, content=raw, headers={"content-type": "application/json"})

        coerced = post("/v1/suggest", b'{"subject": "vpn", "top_k": "5"}')
        assert coerced.status_code == 422 and coerced.json()["field"] == "top_k"
        twice = post("/v1/suggest", b'{"subject": "vpn", "subject": "printer"}')
        assert twice.status_code == 400 and "'subject' twice" in twice.json()["detail"]
        before = client.get("/v1/tickets").json()["total"]
        for raw, field in (
            (b'{"subject": "a\\u0000b"}', "subject"),
            (b'{"subject": "a", "body": "\\u001b[2J"}', "body"),
        ):
            refused = post("/v1/tickets", raw)  # the same 422 on SQLite and PostgreSQL, and nothing stored
            assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
        assert client.get("/v1/tickets").json()["total"] == before
        kept = post("/v1/tickets", b'{"subject": "tabs\\tand\\r\\nlines", "body": "caf\\u00e9 \\u2603"}')
        assert kept.status_code == 201 and kept.json()["subject"] == "tabs\tand\r\nlines"
        query = client.get("/v1/kb/search", params={"q": "vpn\x00"})
        assert query.status_code == 422 and query.json()["field"] == "q"


def test_pagination_is_capped(app):
    with keyed_client(app) as client:
        for url, field in (("/v1/audit?limit=501", "limit"), ("/v1/articles?limit=201", "limit")):
            answer = client.get(url)
            assert answer.status_code == 422 and answer.json()["field"] == field


@pytest.fixture(scope="module", params=BACKENDS)
def personal_data(request, deployments, encoder, tmp_path_factory) -> tuple[Snapshot, list[int]]:
    """The demo data with an operator pattern, a requester whose tickets hold personal data, a bundle: built
    once per backend, copied for each test (erasure changes it)."""
    settings = deployments.copy(request.param, "loaded", tmp_path_factory.mktemp(f"personal-{request.param}"))
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        tickets = session.scalars(select(Ticket).where(Ticket.category == "Network & VPN").limit(3)).all()
        for t in tickets:
            t.requester = "jan.jansen@example.nl"
            t.body += " Bel me op +31 6 1234 5678 of mail jan.jansen@example.nl, contract CT-123456."
            t.resolution = (t.resolution or "") + " Refund to NL91ABNA0417164300."
        ids = [t.id for t in tickets]
        train_bundle(session, encoder, settings.models.artifacts_dir, redact_patterns=PATTERNS)
    engine.dispose()
    return Snapshot(settings.database.url, settings.models.artifacts_dir), ids


@pytest.fixture
def deployment(personal_data, databases, tmp_path):
    """A fresh copy of :func:`personal_data`, served with its operator pattern."""
    snapshot, ids = personal_data
    settings = make_settings(snapshot.clone(databases, tmp_path / "artifacts"), tmp_path)
    return replace(settings, models=replace(settings.models, redact_patterns=PATTERNS)), ids


def test_personal_data_never_enters_a_bundle_an_evidence_snippet_or_a_stored_draft(deployment, encoder):
    settings, ids = deployment
    app = create_app(settings, encoder=encoder)
    bundle_text = "".join(p.read_text() for p in Path(settings.models.artifacts_dir).rglob("*.json"))
    for secret in ("jan.jansen@example.nl", "1234 5678", "NL91ABNA0417164300", "CT-123456"):
        assert secret not in bundle_text
    (manifest,) = Path(settings.models.artifacts_dir).rglob("manifest.json")
    redaction = json.loads(manifest.read_text())["redaction"]  # the manifest says how it was redacted
    assert redaction == {
        "builtin": ["EMAIL", "IBAN", "CARD", "IP", "PHONE"],
        "operator_patterns": {"contract": r"\bCT-\d{6}\b"},
    }
    with keyed_client(app) as client:
        answer = client.post("/v1/suggest", json={"subject": "VPN drops, mail jan.jansen@example.nl"}).json()
        assert "jan.jansen" not in json.dumps(answer)
        portal = {"authorization": f"Bearer {new_key(app.state.serving.sessions, 'portal')}"}
        draft = {"subject": "Mijn IBAN NL91ABNA0417164300 klopt niet", "body": "Groeten, jan@example.nl"}
        assert client.post("/v1/portal/suggest", json=draft, headers=portal).status_code == 200
        ticket = client.get(f"/v1/tickets/{ids[0]}").json()  # agents see the original
        assert "jan.jansen@example.nl" in ticket["body"]
    with session_scope(app.state.serving.sessions) as session:
        stored = session.scalars(select(PortalSuggestion)).one()
        assert (stored.subject, stored.body) == ("Mijn IBAN [IBAN] klopt niet", "Groeten, [EMAIL]")


def test_a_requester_can_be_exported_and_erased_everywhere(deployment, encoder):
    settings, ids = deployment
    app = create_app(settings, encoder=encoder)
    other_process = create_app(settings, encoder=encoder)
    requester = "jan.jansen@example.nl"
    marker = "Zebra-7731 cannot reach the VPN"  # a subject that the copies below quote
    with session_scope(app.state.serving.sessions) as session:
        session.get(Ticket, ids[1]).subject = marker
        session.get(Ticket, ids[2]).resolution = "Told them to mail servicedesk@example.com next time."
        session.add(
            IncidentEvent(
                representative_id=ids[1],
                subject=marker,
                size=5,
                rate_per_hour=5.0,
                baseline_per_hour=0.1,
                member_ids=ids,
            )
        )
    with keyed_client(app) as admin, keyed_client(other_process, "agent") as agent:
        portal = {"authorization": f"Bearer {new_key(app.state.serving.sessions, 'portal')}"}
        draft = admin.post("/v1/portal/suggest", json={"subject": marker}, headers=portal).json()
        filed = {"suggestion_id": draft["suggestion_id"], "type": "ticket_filed"}
        assert admin.post("/v1/portal/events", json=filed, headers=portal).status_code == 201
        assert marker in json.dumps(admin.get("/v1/analytics/deflection").json()["kb_gaps"])  # a KB-gap example
        colleague = {
            "subject": "Printer jam",
            "body": f"Please tell {requester.upper()} (+31 6 1234 5678) when it works.",
        }
        mention = admin.post("/v1/tickets", json={**colleague, "requester": "colleague@example.nl"}).json()["id"]
        shared = [  # a value many tickets quote is not the requester's own
            admin.post("/v1/tickets", json={"subject": f"Mail servicedesk@example.com about laptop {i}"}).json()["id"]
            for i in range(6)
        ]
        subject = admin.get(f"/v1/tickets/{ids[0]}").json()["subject"]
        assert ids[0] in [
            t["id"] for t in agent.post("/v1/suggest", json={"subject": subject}).json()["similar_tickets"]
        ]
        exported = admin.post("/v1/requesters/export", json={"requester": requester})
        assert exported.status_code == 200
        assert sorted(t["id"] for t in exported.json()["tickets"]) == sorted(ids)
        assert "+31 6 1234 5678" in json.dumps(exported.json())  # the export is their own data

        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        with session_scope(app.state.serving.sessions) as session:
            texts = [ticket_text(t.subject, t.body) for t in session.scalars(select(Ticket).where(Ticket.id.in_(ids)))]
        redacted = [app.state.serving.redactor(text) for text in texts]

        erased = admin.post("/v1/requesters/erase", json={"requester": requester})
        assert erased.status_code == 200 and erased.json()["tickets_erased"] == len(ids)
        assert admin.post("/v1/requesters/export", json={"requester": requester}).status_code == 404
        assert admin.post("/v1/requesters/erase", json={"requester": requester}).json()["already_erased"] is True
        unknown = admin.post("/v1/requesters/erase", json={"requester": "never@example.com"})
        assert unknown.status_code == 404 and unknown.json()["field"] == "requester"
        assert "never@example.com" not in unknown.text  # an address is not echoed

        ticket = admin.get(f"/v1/tickets/{ids[0]}").json()
        assert (ticket["subject"], ticket["body"], ticket["requester"], ticket["resolution"]) == (
            "[erased]",
            "",
            None,
            None,
        )
        assert ticket["category"] == "Network & VPN"  # labels stay for the statistics
        quoted = admin.get(f"/v1/tickets/{mention}").json()  # another requester's ticket that quoted the address
        assert quoted["body"] == "Please tell [erased] ([erased]) when it works."
        assert quoted["requester"] == "colleague@example.nl"
        assert all("servicedesk@example.com" in admin.get(f"/v1/tickets/{i}").json()["subject"] for i in shared)
        assert admin.get(f"/v1/tickets/{ids[0]}/assist").status_code == 404  # nothing to assist with
        assert cache.get_many([cache.key(t) for t in redacted + texts]) == {}
        for client in (admin, agent):  # this process at once; the other at its next poll (run now)
            if client is agent:
                anyio.run(other_process.state.serving.refresh)
            similar = client.post("/v1/suggest", json={"subject": subject}).json()["similar_tickets"]
            assert not set(ids) & {t["id"] for t in similar}
        audit = admin.get("/v1/audit?action=requester.").json()["items"]
        assert [e["action"] for e in audit] == ["requester.erased", "requester.exported"]
        assert audit[0]["target"] == audit[1]["target"]  # one keyed name for one requester
        unkeyed = hashlib.sha256(requester.encode()).hexdigest()[:16]  # confirmable by anyone with a guess
        assert requester not in json.dumps(audit) and unkeyed not in json.dumps(audit)

        personal = (marker, requester, "+31 6 1234 5678", "CT-123456", "NL91ABNA0417164300")
        values = {**PATH_VALUES, "ticket_id": str(ids[1])}
        for method, path, _ in route_roles(app):  # every read endpoint, searched for the erased text
            if method != "GET" or "{file_path" in path:
                continue
            url = re.sub(r"\{(\w+):\w+\}", lambda m: values[m.group(1)], path)
            answer = admin.get(url, params={"q": "vpn"} if "search" in url else None)
            assert answer.status_code < 500, url
            assert not [p for p in personal if p in answer.text], (url, answer.text[:300])
    with session_scope(app.state.serving.sessions) as session:
        assert not set(ids) & {t.id for t in training_snapshot(session).tickets}


def test_the_audit_trail_records_who_did_what(demo_settings, encoder):
    app = create_app(demo_settings, encoder=encoder)
    with keyed_client(app, "agent") as agent:
        admin = {"authorization": f"Bearer {new_key(app.state.serving.sessions)}"}
        ticket = agent.post("/v1/tickets", json={"subject": "VPN drops every hour"}).json()
        agent.patch(f"/v1/tickets/{ticket['id']}", json={"assignee": "Network Team", "actor": "ann"})
        agent.post(f"/v1/tickets/{ticket['id']}/resolve", json={"resolution": "Moved the gateway."})
        article = {"slug": "audit-test-article", "title": "Audit test", "body": "# Audit\nA passing article."}
        assert agent.post("/v1/articles", json=article).status_code == 201
        assert agent.put("/v1/articles/audit-test-article", json={**article, "body": "# Audit\nEdited."}).is_success
        assert agent.delete("/v1/articles/audit-test-article").status_code == 204
        assert agent.get("/v1/audit").status_code == 403
        target = f"ticket:{ticket['id']}"
        events = agent.get(f"/v1/audit?target={target}", headers=admin).json()["items"]
        assert [e["action"] for e in events] == ["ticket.resolved", "ticket.updated", "prediction.served"]
        assert {(e["actor"], e["role"]) for e in events} == {("test-agent", "agent")}
        assert events[1]["detail"]["on_behalf_of"] == "ann"
        assert events[1]["detail"]["labels"] == {"assignee": "Network Team"}
        assert events[2]["detail"]["bundle_version"] == app.state.serving.bundle.version
        feedback = agent.get(f"/v1/tickets/{ticket['id']}/feedback").json()
        assert {f["actor"] for f in feedback} == {"test-agent"}  # the authenticated key, whatever the body says
        assert {f["on_behalf_of"] for f in feedback} == {"ann", None}
        edits = agent.get("/v1/audit?action=article.&target=article:audit-test-article", headers=admin).json()["items"]
        assert [e["action"] for e in edits] == ["article.deleted", "article.edited", "article.created"]


def test_similar_tickets_show_other_requesters_text_redacted(deployment, encoder):
    settings, _ = deployment
    app = create_app(settings, encoder=encoder)
    secrets = ("jan.jansen@example.nl", "1234 5678", "CT-123456", "NL91ABNA0417164300")
    subject = "VPN drops, bel +31 6 1234 5678 of mail jan.jansen@example.nl, CT-123456, NL91ABNA0417164300"
    ticket = {"subject": subject, "body": "GlobalProtect keeps disconnecting. " + subject}
    with keyed_client(app, "agent") as agent:
        first = agent.post("/v1/tickets", json=ticket).json()
        second = agent.post("/v1/tickets", json=ticket).json()  # another requester asking the same
        answer = agent.get(f"/v1/tickets/{second['id']}/similar").json()
        assert first["id"] in {d["id"] for d in answer["duplicates"]}
        assert answer["resolved"]
        shown = json.dumps(answer)
        assert not [secret for secret in secrets if secret in shown]
        assert all(f"[{kind}]" in shown for kind in ("EMAIL", "PHONE", "CONTRACT", "IBAN"))
