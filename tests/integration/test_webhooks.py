"""Outbound webhooks over real HTTP: subscriptions through the API, events written with the change they
report, signed per Standard Webhooks and verified by its reference library in a real receiver; retries
while the receiver is down, in order per ticket, never twice under different ids; the give-up bound,
redelivery, 410 Gone, and the refusal of private destinations."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from sqlalchemy import select

from api.app import create_app
from models import OutboxEvent, WebhookDelivery
from models.channel_settings import WebhookSettings
from models.db import session_scope
from tests.conftest import DEMO_FIELDS, keyed_client
from tests.receiver import Receiver

FAST = WebhookSettings(
    allow_networks=("loopback",),
    backoff_seconds=0.2,
    max_backoff_seconds=1.0,
    max_attempts=6,
    poll_seconds=0.2,
    timeout_seconds=2.0,
    lease_seconds=3.0,
)


@pytest.fixture(scope="module")
def settings(deployments, request):
    """A demo deployment of this module's own (subscriptions change what every intake writes)."""
    backend = request.param if hasattr(request, "param") else "sqlite"
    return replace(deployments.copy(backend), webhooks=FAST)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(deployments, encoder, request):
    from tests.conftest import BACKENDS

    if request.param not in BACKENDS:
        pytest.skip(f"{request.param} is not among HELPDESK_TEST_BACKENDS")
    settings = replace(deployments.copy(request.param), webhooks=FAST)
    with keyed_client(create_app(settings, encoder=encoder), "admin") as client:
        yield client


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def subscribe(client, receiver: Receiver, events=("*",)) -> dict:
    answer = client.post("/v1/webhooks", json={"url": receiver.url, "events": list(events)})
    assert answer.status_code == 201, answer.text
    receiver.secret = answer.json()["secret"]
    return answer.json()


def test_subscriptions_are_managed_by_admins_and_never_show_their_secret_again(client, receiver):
    hook = subscribe(client, receiver, ["ticket.created", "ticket.resolved"])
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["ticket.created", "ticket.resolved"]
    listed = {h["id"]: h for h in client.get("/v1/webhooks").json()}
    assert "secret" not in listed[hook["id"]] and "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json()
    paused = client.patch(f"/v1/webhooks/{hook['id']}", json={"active": False})
    assert paused.status_code == 200 and paused.json()["active"] is False
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert client.get(f"/v1/webhooks/{hook['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ["*"]}, "url"),
        ({"url": "http://10.0.0.8/hook", "events": ["*"]}, "url"),
        ({"url": "http://169.254.169.254/latest", "events": ["*"]}, "url"),
        ({"url": "https://example.org/hook", "events": ["ticket.exploded"]}, "events"),
        ({"url": "https://example.org/hook", "events": ["*"], "secret": "hunter2"}, "secret"),
    ],
)
def test_bad_subscriptions_get_problem_details_naming_the_field(client, body, field):
    answer = client.post("/v1/webhooks", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["field"] == field


def test_agents_cannot_manage_webhooks(client):
    from tests.conftest import new_key

    agent = new_key(client.app.state.serving.sessions, "agent")
    answer = client.get("/v1/webhooks", headers={"Authorization": f"Bearer {agent}"})
    assert answer.status_code == 403


def test_ticket_events_carry_the_triage_and_arrive_signed_and_in_order(client, receiver):
    receiver.start()
    hook = subscribe(client, receiver, ["ticket.created", "ticket.updated", "ticket.resolved"])
    started = time.time()
    ticket = client.post("/v1/tickets", json={"subject": "VPN keeps disconnecting", "body": "since this morning"})
    assert ticket.status_code == 201, ticket.text
    tid = ticket.json()["id"]
    assert client.patch(f"/v1/tickets/{tid}", json={"priority": "high", "status": "open"}).status_code == 200
    resolved = client.post(f"/v1/tickets/{tid}/resolve", json={"resolution": "Reinstalled the VPN client."})
    assert resolved.status_code == 200, resolved.text
    got = receiver.wait_for(3)
    mine = [r for r in got if r.data["ticket"]["id"] == tid]
    assert [r.type for r in mine] == ["ticket.created", "ticket.updated", "ticket.resolved"]
    assert not receiver.rejected
    created = mine[0].data
    assert set(created["suggestion"]["predictions"]) == DEMO_FIELDS
    assert created["suggestion"]["articles"] and created["suggestion"]["articles"][0]["help_path"].startswith("/help/")
    assert mine[1].data["changes"] == {"priority": "high", "status": "open"}
    assert mine[2].data["ticket"]["status"] == "resolved"
    assert len({r.webhook_id for r in mine}) == 3 and all(r.webhook_id.startswith("msg_") for r in mine)
    assert mine[0].at - started < 5  # woken by the commit, not by a slow poll
    deadline = time.monotonic() + 10  # the receiver may see the last one before its result is recorded
    while time.monotonic() < deadline:
        log = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()
        if {d["state"] for d in log["items"]} == {"delivered"}:
            break
        time.sleep(0.05)
    assert log["total"] == 3 and {d["state"] for d in log["items"]} == {"delivered"}
    assert {d["event_id"] for d in log["items"]} == {r.webhook_id for r in mine}
    assert all(d["log"][-1]["status"] == 200 for d in log["items"])


def test_a_receiver_that_is_down_gets_every_event_later_in_order_and_never_under_a_new_id(client, receiver):
    hook = subscribe(client, receiver, ["ticket.created", "ticket.updated"])  # not started: refused
    ids = []
    for n in range(3):
        tid = client.post("/v1/tickets", json={"subject": f"Printer {n} jams", "body": "paper jam on floor 2"}).json()
        ids.append(tid["id"])
        for priority in ("low", "high"):
            assert client.patch(f"/v1/tickets/{tid['id']}", json={"priority": priority}).status_code == 200
    time.sleep(1.0)  # a few failed attempts
    failing = client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"state": "pending"}).json()
    assert failing["total"] >= 1 and failing["items"][-1]["last_error"]
    receiver.start()
    got = receiver.wait_for(9, timeout=30)
    with session_scope(client.app.state.serving.sessions) as session:
        events = {
            e.event_id: e
            for e in session.scalars(select(OutboxEvent).where(OutboxEvent.subject.in_([f"ticket:{i}" for i in ids])))
        }
    assert {r.webhook_id for r in got} == set(events)  # every event, under its one id
    for tid in ids:
        seen = [r for r in got if r.data["ticket"]["id"] == tid]
        first = list(dict.fromkeys(r.webhook_id for r in seen))
        assert [events[i].type for i in first] == ["ticket.created", "ticket.updated", "ticket.updated"]
        assert [r.data.get("changes", {}).get("priority") for r in seen[1:3]] == ["low", "high"]
    for r in got:  # a repeat (if any) carries the same id and the same body
        assert r.data == next(x.data for x in got if x.webhook_id == r.webhook_id)


def test_deliveries_give_up_after_the_bound_and_can_be_redelivered(client, receiver):
    receiver.status = 500
    receiver.start()
    hook = subscribe(client, receiver, ["webhook.test"])
    assert client.post(f"/v1/webhooks/{hook['id']}/test").status_code == 202
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        if items and items[0]["state"] == "failed":
            break
        time.sleep(0.1)
    delivery = items[0]
    assert delivery["state"] == "failed" and delivery["attempts"] == FAST.max_attempts
    assert receiver.requests == FAST.max_attempts
    gaps = [b - a for a, b in zip(_times(delivery), _times(delivery)[1:], strict=False)]
    assert gaps[-1] > gaps[0]  # backing off
    receiver.status = 200
    again = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
    assert again.status_code == 202, again.text
    (got,) = receiver.wait_for(1)
    assert got.webhook_id == delivery["event_id"] and got.type == "webhook.test"


def _times(delivery: dict) -> list[float]:
    from datetime import datetime

    return [datetime.fromisoformat(entry["at"]).timestamp() for entry in delivery["log"]]


def test_gone_disables_the_subscription(client, receiver):
    receiver.status = 410
    receiver.start()
    hook = subscribe(client, receiver, ["webhook.test"])
    client.post(f"/v1/webhooks/{hook['id']}/test")
    deadline = time.monotonic() + 10
    while client.get(f"/v1/webhooks/{hook['id']}").json()["active"] and time.monotonic() < deadline:
        time.sleep(0.1)
    state = client.get(f"/v1/webhooks/{hook['id']}").json()
    assert state["active"] is False and "410" in state["disabled_reason"]


def test_a_slow_answer_is_cut_off_by_the_timeout(client, receiver):
    receiver.delay = FAST.timeout_seconds + 1
    receiver.start()
    hook = subscribe(client, receiver, ["webhook.test"])
    client.post(f"/v1/webhooks/{hook['id']}/test")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        item = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
        if item["attempts"]:
            break
        time.sleep(0.1)
    assert item["state"] in {"pending", "sending"} and "Timeout" in item["log"][0]["error"]
    assert item["log"][0]["ms"] < (FAST.timeout_seconds + 1) * 1000
    client.delete(f"/v1/webhooks/{hook['id']}")


def test_outbox_rows_are_written_with_the_change_or_not_at_all(client, receiver):
    subscribe(client, receiver, ["ticket.created"])
    sessions = client.app.state.serving.sessions
    with session_scope(sessions) as session:
        before = session.query(WebhookDelivery).count(), session.query(OutboxEvent).count()
    answer = client.post("/v1/tickets", json={"subject": " ", "body": ""})  # refused: nothing written
    assert answer.status_code == 422
    with session_scope(sessions) as session:
        assert (session.query(WebhookDelivery).count(), session.query(OutboxEvent).count()) == before


def test_the_readme_receiver_snippet_verifies_a_real_delivery_and_refuses_a_forged_one(client, receiver):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    snippet = readme.split("<!-- webhook-receiver -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(snippet, "README.md", "exec"), namespace)  # noqa: S102 - our own README's example
    receiver.start()
    hook = subscribe(client, receiver, ["webhook.test"])
    client.post(f"/v1/webhooks/{hook['id']}/test")
    receiver.wait_for(1)
    body, headers = receiver.raw[0]
    event = namespace["receive"](body, headers, hook["secret"])
    assert event["type"] == "webhook.test" and event["data"]["webhook_id"] == hook["id"]
    assert namespace["receive"](body.replace(b"webhook", b"webhooK"), headers, hook["secret"]) is None
    assert namespace["receive"](body, headers, "whsec_" + "A" * 43 + "=") is None


def test_a_huge_answer_is_read_only_up_to_the_cap(client, receiver):
    receiver.body = b"x" * (8 * 1024 * 1024)
    receiver.start()
    hook = subscribe(client, receiver, ["webhook.test"])
    client.post(f"/v1/webhooks/{hook['id']}/test")
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        item = client.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]
        if item["state"] == "delivered":
            break
        time.sleep(0.05)
    assert item["state"] == "delivered" and item["log"][-1]["response"] == "x" * 200
    client.delete(f"/v1/webhooks/{hook['id']}")
