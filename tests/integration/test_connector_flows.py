"""The whole connector flow through our API, for Zammad, Zendesk and Freshdesk against their stand-ins
(tests/standins): a connector is added, the helpdesk's documented webhook arrives signed as it signs it, the
deliverer takes the ticket in and writes back an internal note and the fields we are sure of that nobody set;
the agent solves the ticket there and ours is resolved with their labels as feedback, reopened when they
reopen it. And what goes wrong: a bad signature, a replayed delivery, the helpdesk down (retried, failed,
redelivered, never a second note) and a ticket deleted before write-back (given up at once)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from api.app import create_app
from models import ConnectorInbound, Feedback, OutboxEvent, Suggestion, Ticket
from models.channel_settings import WebhookSettings
from models.db import session_scope
from tests import waiting
from tests.conftest import keyed_client
from tests.standins import Hook, StandIn, standin
from triage.channels.connectors.base import MARKER

pytestmark = pytest.mark.slow  # about 11 s of its own, after the demo deployment every module shares

FLOW = WebhookSettings(
    allow_networks=("loopback",), backoff_seconds=0.1, max_backoff_seconds=0.3, max_attempts=3, poll_seconds=0.1
)
TEAMS = {"Support": "Service Desk", "Billing": "Billing Support", "Orders": "Customer Orders"}  # their group: ours
PRIORITY = {  # our priority: theirs
    "zammad": {"low": "1 low", "normal": "2 normal", "high": "3 high"},
    "zendesk": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
    "freshdesk": {"low": 1, "normal": 2, "high": 3, "urgent": 4},
}
UNSET = {  # their values that mean nobody chose: Zammad's default group and priority; Freshdesk's Low is a choice
    "zammad": {"assignee": (None, "Users"), "priority": (None, "2 normal")},
    "zendesk": {"assignee": (None,), "priority": (None,)},
    "freshdesk": {"assignee": (None,), "priority": (None,)},
}
KINDS = {  # the category field, a new ticket's group, the statuses of a solved and of a reopened ticket
    "zammad": ("category", "Users", "closed", "open"),
    "zendesk": ("360000111", None, "solved", "open"),
    "freshdesk": ("cf_category", None, 4, 2),
}
TITLES = {"category": "Category", "priority": "Priority", "assignee": "Team"}
INTERNAL = {"zammad": {"type": "note", "internal": True}, "zendesk": {"public": False}, "freshdesk": {"private": True}}
STORED = (  # what a webhook stores (not the incident detector's events, which come when they come)
    select(func.count()).select_from(Ticket),
    select(func.count()).select_from(ConnectorInbound),
    select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type.startswith("connector.")),
)
ORDER = ("Where is my order 4471999?", "I ordered a desk chair last Monday and it still has not arrived. Where is it?")
PAYMENT = ("Payment failed", "My card was declined when I tried to pay for order 4490001. Was I charged twice?")
LOCKED = ("Locked out of my account", "I typed my password wrong too many times and now my account is locked.")


@dataclass
class Desk:
    """A helpdesk stand-in with its connector on our side."""

    client: Any
    api: StandIn
    name: str
    secret: str


@pytest.fixture(scope="module")
def client(deployments, encoder) -> Iterator[Any]:
    settings = replace(deployments.copy("sqlite"), webhooks=FLOW)
    with keyed_client(create_app(settings, encoder=encoder), "admin") as client:
        yield client


@pytest.fixture(scope="module", params=sorted(KINDS))
def desk(client, request) -> Iterator[Desk]:
    """A running stand-in with an "Orders" group, connected through our API (the webhook secret made for us)."""
    with standin(request.param) as api:
        api.groups[max(api.groups) + 1] = "Orders"
        config = {
            "name": f"flow-{api.kind}",
            "kind": api.kind,
            "base_url": api.base_url,
            "credentials": api.credentials,
            "options": {"category_field": KINDS[api.kind][0]},
            "mapping": {"assignee": TEAMS},
            "untriaged": {"assignee": ["Users"]} if api.kind == "zammad" else {},
        }
        made = client.post("/v1/connectors", json=config)
        assert made.status_code == 201, made.text
        yield Desk(client, api, config["name"], made.json()["webhook_secret"])


def send(desk: Desk, hook: Hook) -> Any:
    """Post a helpdesk's webhook to our API as it arrives: JSON, no API key."""
    headers = {**hook.headers, "Authorization": "", "Content-Type": "application/json"}
    url = f"/v1/connectors/{desk.name}/events"
    return desk.client.post(url, content=hook.content, headers=headers, params=hook.params)


def post(desk: Desk, hook: Hook, expect: str | None = "queued") -> dict[str, Any]:
    """:func:`send`, answered 202 (with ``expect`` as the status when given)."""
    answer = send(desk, hook)
    assert answer.status_code == 202, answer.text
    assert expect is None or answer.json()["status"] == expect, answer.text
    return answer.json()


def hook(desk: Desk, remote_id: str, event: str = "updated") -> Hook:
    return desk.api.webhook(remote_id, event, desk.secret)


def fields(desk: Desk, remote_id: str) -> dict[str, Any]:
    ticket = desk.api.ticket(remote_id)
    return {"assignee": ticket.group, "priority": ticket.priority}


wait_for = partial(waiting.wait_for, timeout=15.0, step=0.05)


def deliveries(desk: Desk, remote_id: str | None = None, kind: str | None = None, **query: str) -> list[dict]:
    """The connector's queue through our API, newest first; of one remote ticket and event type if given."""
    answer = desk.client.get(f"/v1/connectors/{desk.name}/deliveries", params={"limit": 200, **query})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    if remote_id is not None:
        items = [i for i in items if i["subject"] == f"connector:{desk.name}:{remote_id}"]
    return [i for i in items if kind is None or i["event_type"] == kind]


def settle(desk: Desk) -> None:
    """Wait until the connector's queue has nothing pending or in flight."""
    wait_for(lambda: all(i["state"] in ("delivered", "failed") for i in deliveries(desk)), "the queue to settle")


def failed(desk: Desk, remote_id: str, kind: str) -> dict[str, Any]:
    """The ticket's delivery of ``kind`` once it shows as failed."""
    return wait_for(lambda: deliveries(desk, remote_id, kind, state="failed"), f"{kind} to fail")[0]


def redeliver(desk: Desk, delivery: dict[str, Any]) -> None:
    answer = desk.client.post(f"/v1/connectors/{desk.name}/deliveries/{delivery['id']}/redeliver")
    assert answer.status_code == 202, answer.text
    assert (answer.json()["state"], answer.json()["attempts"]) == ("pending", 0)


def ours(desk: Desk, remote_id: str) -> tuple[Ticket, Suggestion, list[Feedback]] | None:
    """Our ticket for the remote one, its latest suggestion and its feedback (``None``: no ticket yet)."""
    with session_scope(desk.client.app.state.serving.sessions) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.external_id == f"{desk.name}:{remote_id}"))
        if ticket is None:
            return None
        latest = select(Suggestion).where(Suggestion.ticket_id == ticket.id).order_by(Suggestion.id.desc())
        suggestion = session.scalars(latest).first()
        feedback = list(session.scalars(select(Feedback).where(Feedback.ticket_id == ticket.id)))
        session.expunge_all()
        return ticket, suggestion, feedback


def counts(desk: Desk) -> tuple[int, ...]:
    """How many tickets, received webhooks and queued connector events we store."""
    with session_scope(desk.client.app.state.serving.sessions) as session:
        return tuple(session.scalar(query) for query in STORED)


def intake(desk: Desk, text: tuple[str, str], group: str | None = None) -> tuple[str, Suggestion, dict[str, Any]]:
    """A new ticket in the helpdesk, its webhook, our write-back done: its id, our suggestion, its fields before."""
    remote_id = desk.api.add_ticket(*text, group=group or KINDS[desk.api.kind][1])
    before = fields(desk, remote_id)
    post(desk, hook(desk, remote_id, "created"))
    _, suggestion, _ = wait_for(lambda: ours(desk, remote_id), "our ticket")
    wait_for(lambda: any(f"{MARKER}{suggestion.id}" in n for n in desk.api.notes(remote_id)), "our note")
    settle(desk)
    assert [d["state"] for d in deliveries(desk, remote_id, "connector.write_back")] == ["delivered"]
    return remote_id, suggestion, before


def expected(desk: Desk, before: dict[str, Any], predictions: dict[str, Any]) -> dict[str, Any]:
    """The fields after write-back: ours where the prediction is committed and the field was unset; else as was."""
    theirs = {"assignee": {ours: group for group, ours in TEAMS.items()}, "priority": PRIORITY[desk.api.kind]}
    after = dict(before)
    for name, value in before.items():
        prediction = predictions.get(name) or {}
        if prediction.get("status") == "ok" and value in UNSET[desk.api.kind][name]:
            after[name] = theirs[name].get(prediction["label"], value)
    return after


# --- the flow ------------------------------------------------------------------------------------------


def test_a_new_ticket_gets_an_internal_note_and_only_the_fields_we_are_sure_of(desk):
    remote_id, suggestion, before = intake(desk, ORDER)
    if desk.api.kind != "zammad":  # its API names groups by name; the others' groups are read once, then kept
        assert len(desk.api.calls_to("GET", r"/api/v2/groups(\.json)?")) == 1
    [note] = desk.api.notes(remote_id)
    text = html.unescape(re.sub(r"<[^>]+>", " ", note))
    assert f"{MARKER}{suggestion.id}" in text
    for name, prediction in suggestion.predictions.items():
        top = prediction.get("top") or {}
        percent = f"{prediction['confidence']:.0%}"
        said = (
            f"{prediction['label']} ("
            if prediction["status"] == "ok"
            else f"probably {top['label']} ({percent}), not sure"
        )
        assert f"{TITLES.get(name, name.replace('_', ' ').capitalize())}: {said}" in text  # request_type: Request type
    base_url = desk.client.app.state.serving.settings.api.base_url().rstrip("/")
    assert suggestion.articles and all(f'href="{base_url}/help/{a["slug"]}"' in note for a in suggestion.articles)
    [call] = [c for c in desk.api.calls if f"{MARKER}{suggestion.id}" in str(c.json)]  # one call, the note's
    sent = call.json["ticket"]["comment"] if desk.api.kind == "zendesk" else call.json
    assert INTERNAL[desk.api.kind].items() <= sent.items()
    after = expected(desk, before, suggestion.predictions)
    assert after["assignee"] == "Orders" != before["assignee"], "the demo bundle is sure of an order question's team"
    assert fields(desk, remote_id) == after and len(desk.api.field_changes(remote_id)) == 1
    post(desk, hook(desk, remote_id), expect=None)  # our write-back, echoed back as an update: nothing more
    settle(desk)
    assert len(desk.api.notes(remote_id)) == 1 and fields(desk, remote_id) == after
    mine = ours(desk, remote_id)[0]
    assert (mine.status, mine.subject, mine.channel) == ("new", ORDER[0], desk.api.kind)
    assert mine.requester == "customer@example.test"


def test_a_team_a_person_chose_is_never_overwritten(desk):
    remote_id, suggestion, before = intake(desk, PAYMENT, group="Support")
    assert suggestion.predictions["assignee"]["status"] == "ok", "the demo bundle is sure of a payment's team"
    assert suggestion.predictions["assignee"]["label"] != "Service Desk"
    assert fields(desk, remote_id) == expected(desk, before, suggestion.predictions)
    assert desk.api.ticket(remote_id).group == "Support" and len(desk.api.notes(remote_id)) == 1
    assert not any("group" in str(c.json) for c in desk.api.field_changes(remote_id))


def solve(desk: Desk, remote_id: str, team: str, category: str, reply: str) -> None:
    """The agent sets team, priority "high" and category, answers and solves the ticket in the helpdesk."""
    ticket = desk.api.ticket(remote_id)
    ticket.group = next(group for group, ours in TEAMS.items() if ours == team)
    ticket.priority, ticket.custom[KINDS[desk.api.kind][0]] = PRIORITY[desk.api.kind]["high"], category
    desk.api.add_article(ticket, reply, internal=False, agent=True)
    ticket.status = KINDS[desk.api.kind][2]


def test_a_solved_ticket_resolves_ours_with_the_agents_labels_as_feedback(desk):
    remote_id, suggestion, _ = intake(desk, ORDER)
    predicted = {name: p.get("label") for name, p in suggestion.predictions.items()}
    team = next(ours for ours in TEAMS.values() if ours != predicted["assignee"])
    category = predicted["category"] or "Orders & Delivery"
    solve(desk, remote_id, team, category, "The chair went to the wrong floor; reception has it now.")
    post(desk, hook(desk, remote_id))
    mine, _, feedback = wait_for(lambda: (o := ours(desk, remote_id)) and o[0].status == "resolved" and o, "resolved")
    final = {"assignee": team, "priority": "high", "category": category}
    assert {name: getattr(mine, name) for name in final} == final and mine.resolved_at is not None
    assert mine.resolution == "The chair went to the wrong floor; reception has it now."
    assert {f.field: (f.value, f.predicted, f.suggestion_id, f.source) for f in feedback} == {
        name: (value, predicted[name], suggestion.id, "resolve") for name, value in final.items()
    }
    for row in feedback:
        assert row.action == ("accepted" if row.predicted == row.value else "overridden"), row.field
        assert row.actor == f"connector:{desk.name}"
    assert next(f.action for f in feedback if f.field == "assignee") == "overridden"
    settle(desk)
    inbound = desk.client.get(f"/v1/connectors/{desk.name}/inbound").json()
    assert (inbound[0]["remote_id"], inbound[0]["outcome"], inbound[0]["ticket_id"]) == (remote_id, "resolved", mine.id)
    assert len(desk.api.notes(remote_id)) == 1 and not deliveries(desk, remote_id, "connector.write_back")[1:]


def test_a_ticket_reopened_there_is_reopened_here(desk):
    remote_id, _, _ = intake(desk, LOCKED)
    post(desk, hook(desk, remote_id), expect=None)  # our write-back, echoed back as an update
    settle(desk)
    solve(desk, remote_id, "Service Desk", "Accounts & Passwords", "Unlocked; please sign in again.")
    post(desk, hook(desk, remote_id))
    wait_for(lambda: ours(desk, remote_id)[0].status == "resolved", "resolved")
    ticket = desk.api.ticket(remote_id)
    desk.api.add_article(ticket, "Still locked out.", internal=False, agent=False)
    ticket.status = KINDS[desk.api.kind][3]
    # on Freshdesk the body is the same as the echo's ({"ticket_id", "ticket_status": "Open", "event"}): its
    # delivery id is a digest of the body, which names one delivery for ten minutes only (no reopening lost)
    post(desk, hook(desk, remote_id))
    wait_for(lambda: ours(desk, remote_id)[0].status == "open", "reopened")


PENDING = {"zammad": "pending reminder", "zendesk": "pending", "freshdesk": 3}  # waiting for the customer there


def test_an_answer_and_a_wait_there_move_our_sla_clock(desk):
    remote_id, _, _ = intake(desk, PAYMENT)
    post(desk, hook(desk, remote_id), expect=None)  # our write-back, echoed back as an update
    settle(desk)
    ticket = desk.api.ticket(remote_id)
    desk.api.add_article(
        ticket, "We are checking with the bank; can you send the last 4 digits?", internal=False, agent=True
    )
    ticket.status = PENDING[desk.api.kind]
    post(desk, hook(desk, remote_id))
    mine = wait_for(lambda: (o := ours(desk, remote_id)) and o[0].status == "pending" and o[0], "pending here")
    sla = desk.client.get(f"/v1/tickets/{mine.id}").json()["sla"]
    assert sla["first_response_at"] and sla["paused"], sla  # their agent's answer is our first response
    desk.api.add_article(ticket, "The digits are 4242.", internal=False, agent=False)
    ticket.status = KINDS[desk.api.kind][3]
    post(desk, hook(desk, remote_id))
    wait_for(lambda: ours(desk, remote_id)[0].status == "open", "open again")
    assert not desk.client.get(f"/v1/tickets/{mine.id}").json()["sla"]["paused"]


# --- what goes wrong -----------------------------------------------------------------------------------


def test_a_wrong_signature_is_refused_and_stores_nothing(desk):
    settle(desk)  # no work of an earlier test calls the helpdesk meanwhile
    remote_id = desk.api.add_ticket(*LOCKED, group=KINDS[desk.api.kind][1])
    before, calls, good = counts(desk), len(desk.api.calls), hook(desk, remote_id, "created")
    forged = [
        desk.api.webhook(remote_id, "created", "not-the-secret-of-this-connector"),
        replace(good, headers={}, params={}),
    ]
    if desk.api.kind != "freshdesk":  # a shared token signs no body
        forged.append(replace(good, content=good.content + b" "))
    for request in forged:
        answer = send(desk, request)
        assert answer.status_code == 401 and answer.json()["field"] in ("signature", "token"), answer.text
    assert counts(desk) == before and len(desk.api.calls) == calls and ours(desk, remote_id) is None


def test_the_same_delivery_twice_makes_one_ticket(desk):
    remote_id = desk.api.add_ticket(*LOCKED, group=KINDS[desk.api.kind][1])
    request = hook(desk, remote_id, "created")
    first = post(desk, request)
    # Freshdesk sends no delivery id: the same body is a duplicate while its work is queued, news once it is
    # done (the work reads the ticket again and writes nothing twice)
    again = post(desk, request, expect=None if desk.api.kind == "freshdesk" else "duplicate")
    assert again["delivery_id"] == first["delivery_id"] and again["status"] in ("duplicate", "queued")
    wait_for(lambda: desk.api.notes(remote_id), "our note")
    settle(desk)
    with session_scope(desk.client.app.state.serving.sessions) as session:
        query = select(func.count()).select_from(Ticket).where(Ticket.external_id == f"{desk.name}:{remote_id}")
        assert session.scalar(query) == 1
    received = len(deliveries(desk, remote_id, "connector.received"))
    assert received == (1 if again["status"] == "duplicate" else 2) and len(desk.api.notes(remote_id)) == 1


def test_work_is_retried_while_the_helpdesk_is_down_then_redelivered(desk):
    settle(desk)
    remote_id = desk.api.add_ticket(*ORDER, group=KINDS[desk.api.kind][1])
    desk.api.fail_next(FLOW.max_attempts + 2, status=503)
    post(desk, hook(desk, remote_id, "created"))
    received = failed(desk, remote_id, "connector.received")
    assert (received["attempts"], received["last_status"]) == (FLOW.max_attempts, 503)
    assert "503" in received["last_error"] and [e["status"] for e in received["log"]] == [503] * FLOW.max_attempts
    assert ours(desk, remote_id) is None and desk.api.notes(remote_id) == []
    assert desk.api.recover() == 2  # no call after the last attempt
    redeliver(desk, received)
    wait_for(lambda: desk.api.notes(remote_id), "our note")
    settle(desk)
    assert [d["state"] for d in deliveries(desk, remote_id)] == ["delivered", "delivered"]
    assert len(desk.api.notes(remote_id)) == 1


def test_a_write_back_that_failed_half_way_is_redone_without_a_second_note(desk):
    settle(desk)
    remote_id = desk.api.add_ticket(*ORDER, group=KINDS[desk.api.kind][1])
    before = fields(desk, remote_id)
    desk.api.fail_next(FLOW.max_attempts + 2, status=503, only=lambda c: c in desk.api.field_changes(remote_id))
    post(desk, hook(desk, remote_id, "created"))
    write_back = failed(desk, remote_id, "connector.write_back")
    assert (write_back["attempts"], write_back["last_status"]) == (FLOW.max_attempts, 503)
    assert "503" in write_back["last_error"]
    assert len(desk.api.notes(remote_id)) == 1 and fields(desk, remote_id) == before  # the note went, no fields
    assert desk.api.recover() == 2
    redeliver(desk, write_back)
    settle(desk)
    [done] = deliveries(desk, remote_id, "connector.write_back")
    assert done["state"] == "delivered" and "note" not in done["log"][-1]["response"]
    assert len(desk.api.notes(remote_id)) == 1
    assert fields(desk, remote_id) == expected(desk, before, ours(desk, remote_id)[1].predictions) != before


def test_a_ticket_deleted_before_write_back_fails_at_once(desk):
    remote_id, _, _ = intake(desk, LOCKED)
    desk.api.delete_ticket(remote_id, soft=desk.api.kind != "zammad")  # Zendesk's deleted, Freshdesk's trash
    [write_back] = deliveries(desk, remote_id, "connector.write_back")
    redeliver(desk, write_back)
    failed(desk, remote_id, "connector.write_back")
    time.sleep(FLOW.max_backoff_seconds * 2)  # a retry would have come by now
    [gone] = deliveries(desk, remote_id, "connector.write_back")
    assert (gone["state"], gone["attempts"]) == ("failed", 1)
    assert gone["last_status"] == (None if desk.api.kind == "freshdesk" else 404)
    assert remote_id in gone["last_error"] and gone["log"][-1]["error"] == gone["last_error"]
    assert ours(desk, remote_id)[0].status == "new"
