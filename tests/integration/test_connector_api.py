"""Connectors through the API, on both databases: admins configure them and never see a credential or the
webhook secret again; bad configurations get problem details naming the field; a helpdesk's webhook is
verified before anything is stored (401 otherwise), a replayed delivery stores nothing, and our own
write-back echoed back is ignored. Nothing is processed here (the deliverer is off): the work itself is
tested against a real django-helpdesk and the documented stand-ins."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from api.app import create_app
from models import ConnectorInbound, OutboxEvent, WebhookDelivery
from models.channel_settings import WebhookSettings
from models.db import session_scope
from tests.conftest import keyed_client, new_key

TOKEN = "desk-token-0123456789abcdef"
DESK = {
    "name": "desk",
    "kind": "django-helpdesk",
    "base_url": "http://desk.example.org/helpdesk",
    "credentials": {"user": "triage", "password": "pa55-word-kept-secret"},
    "webhook_secret": TOKEN,
    "mapping": {"assignee": {"2": "Network Operations"}, "priority": {"1": "urgent"}},
    "untriaged": {"assignee": ["1"]},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(deployments, encoder, request):
    from tests.conftest import BACKENDS

    if request.param not in BACKENDS:
        pytest.skip(f"{request.param} is not among HELPDESK_TEST_BACKENDS")
    settings = replace(deployments.copy(request.param, "loaded"), webhooks=WebhookSettings(enabled=False))
    with keyed_client(create_app(settings, encoder=encoder), "admin") as client:
        yield client


def _event(ticket_id: int, followup: dict | None = None) -> bytes:
    """A webhook body as django-helpdesk 2.6 posts it (``helpdesk/webhooks.py``)."""
    ticket = {"id": ticket_id, "queue": 1, "title": "VPN down", "description": "It drops.", "status": 1}
    ticket["followup_set"] = [followup] if followup else []
    body = {"ticket": ticket, "queue_slug": "service-desk"}
    if followup:
        body["followup_id"] = followup["id"]
    return json.dumps(body).encode()


def _count(client, model) -> int:
    with session_scope(client.app.state.serving.sessions) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_connectors_are_managed_by_admins_and_never_show_a_secret_again(client):
    made = client.post("/v1/connectors", json=DESK)
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["webhook_secret"] == TOKEN and out["credentials"] == ["password", "user"]
    assert out["events_path"] == "/v1/connectors/desk/events" and out["write_fields"] == ["assignee", "priority"]
    assert out["mapping"]["priority"] == {"1": "urgent", "2": "high", "3": "normal", "4": "low", "5": "low"}
    assert out["untriaged"] == {"assignee": ["1"], "priority": ["3"]}
    for shown in (client.get("/v1/connectors").json()[0], client.get("/v1/connectors/desk").json()):
        text = json.dumps(shown)
        assert "webhook_secret" not in shown and TOKEN not in text and "pa55-word" not in text
    assert client.post("/v1/connectors", json=DESK).status_code == 409
    paused = client.patch("/v1/connectors/desk", json={"active": False, "write_fields": ["priority"]})
    assert paused.status_code == 200
    assert (paused.json()["active"], paused.json()["write_fields"]) == (False, ["priority"])
    assert client.get("/v1/webhooks").json() == []  # its queue is no webhook subscription
    assert client.delete("/v1/connectors/desk").status_code == 204
    assert client.get("/v1/connectors/desk").status_code == 404
    agent = new_key(client.app.state.serving.sessions, "agent")
    assert client.get("/v1/connectors", headers={"Authorization": f"Bearer {agent}"}).status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "otrs"}, "kind"),
        ({"name": "Desk One"}, "name"),
        ({"base_url": "ftp://desk.example.org"}, "base_url"),
        ({"base_url": "http://10.1.2.3/helpdesk"}, "base_url"),
        ({"credentials": {"user": "triage"}}, "credentials.password"),
        ({"credentials": {"user": "a", "password": "b", "token": "c"}}, "credentials.token"),
        ({"options": {"colour": "red"}}, "options.colour"),
        ({"mapping": {"team": {"2": "Network"}}}, "mapping"),
        ({"write_fields": ["category"]}, "write_fields"),
        ({"untriaged": {"sla": ["x"]}}, "untriaged"),
        ({"webhook_secret": "short"}, "webhook_secret"),
    ],
)
def test_bad_connectors_get_problem_details_naming_the_field(client, change, field):
    answer = client.post("/v1/connectors", json={**DESK, "name": "bad", **change})
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field
    assert client.get("/v1/connectors/bad").status_code == 404  # nothing half-made


def test_webhooks_are_verified_deduplicated_and_our_own_echo_ignored(client):
    assert client.post("/v1/connectors", json={**DESK, "name": "hooks"}).status_code == 201
    url = "/v1/connectors/hooks/events"
    anonymous = {"Authorization": "", "content-type": "application/json"}
    before = _count(client, OutboxEvent)
    for query in ("", "?token=guess"):
        refused = client.post(url + query, content=_event(7), headers=anonymous)
        assert refused.status_code == 401, refused.text
        assert refused.json()["field"] == "token"
    assert _count(client, ConnectorInbound) == 0 and _count(client, OutboxEvent) == before
    first = client.post(f"{url}?token={TOKEN}", content=_event(7), headers=anonymous)
    assert first.status_code == 202
    assert first.json() == {"status": "queued", "delivery_id": "ticket:7", "remote_id": "7"}
    again = client.post(f"{url}?token={TOKEN}", content=_event(7), headers=anonymous)
    assert again.status_code == 202 and again.json()["status"] == "duplicate"
    note = {"id": 31, "comment": "Triage suggestion ... helpdesk-triage:suggestion:5", "public": False}
    echo = client.post(f"{url}?token={TOKEN}", content=_event(7, note), headers=anonymous)
    assert echo.json()["status"] == "ignored"
    assert _count(client, ConnectorInbound) == 1
    queued = client.get("/v1/connectors/hooks/deliveries").json()
    assert queued["total"] == 1 and queued["items"][0]["event_type"] == "connector.received"
    assert client.get("/v1/connectors/hooks/inbound").json()[0]["delivery_id"] == "ticket:7"
    with session_scope(client.app.state.serving.sessions) as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
    bad = client.post(f"{url}?token={TOKEN}", content=b"{not json", headers=anonymous)
    assert bad.status_code == 422 and bad.json()["field"] == "body"
    missing = client.post(f"/v1/connectors/nobody/events?token={TOKEN}", content=_event(7), headers=anonymous)
    assert missing.status_code == 404
