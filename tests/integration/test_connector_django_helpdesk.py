"""The django-helpdesk connector end to end, against a real django-helpdesk (its own server and database on
a free port, its new-ticket and follow-up webhooks pointed at our API served on a real port): a ticket
created there gets our internal follow-up with predictions and articles within seconds and its queue and
priority set where we are sure and nobody chose; resolving it there resolves it here with the agent's labels
as overrides; replays and forgeries store nothing; a write-back is retried while the helpdesk is down and
shown as failed, a ticket deleted there is recorded and not retried; backfill imports the history and a
retrain learns from it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from models import Feedback, Suggestion, Ticket
from models.channel_settings import WebhookSettings
from models.db import make_engine, make_session_factory, session_scope
from models.settings import Settings
from tests.conftest import key_for
from tests.djangohelpdesk import DjangoHelpdesk, shared_folder, start_django_helpdesk
from tests.liveapp import LiveApp
from tests.waiting import wait_for
from triage.channels.connectors.base import MARKER
from triage.evaluation.bench import free_port

pytestmark = pytest.mark.slow

TOKEN = "desk-webhook-token-0123456789"
FAST = WebhookSettings(
    allow_networks=("loopback",),
    backoff_seconds=0.2,
    max_backoff_seconds=0.4,
    max_attempts=3,
    poll_seconds=0.2,
    timeout_seconds=10.0,
    lease_seconds=30.0,
)
TEAMS = {"Service Desk": "Service Desk", "Network": "Network Operations", "Hardware": "Workplace Devices"}
TEAMS["Access"] = "Identity & Access"
SHARED_CATEGORIES = ("Accounts & Passwords", "Email & Calendar", "Hardware", "Network & VPN", "Printing")


@dataclass
class Stack:
    settings: Settings
    api: httpx.Client
    desk: DjangoHelpdesk
    sessions: sessionmaker[Session]


@pytest.fixture(scope="module")
def stack(deployments, encoder, tmp_path_factory) -> Iterator[Stack]:
    settings = replace(deployments.copy("sqlite"), webhooks=FAST)
    live = LiveApp(create_app(settings, encoder=encoder))
    key = key_for(settings.database.url)
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=60, trust_env=False)
    hook = f"{live.url}/v1/connectors/desk/events?token={TOKEN}"
    desk = start_django_helpdesk(
        tmp_path_factory.mktemp("desk"),
        shared=shared_folder(tmp_path_factory),
        new_ticket_webhooks=[hook],
        followup_webhooks=[hook],
    )
    engine = make_engine(settings.database.url)
    made = api.post(
        "/v1/connectors",
        json={
            "name": "desk",
            "kind": "django-helpdesk",
            "base_url": desk.base_url,
            "credentials": {"user": desk.user, "password": desk.password},
            "webhook_secret": TOKEN,
            "options": {"category_field": "category"},
            "mapping": {
                "assignee": {str(queue): TEAMS[title] for title, queue in desk.queues.items()},
                "category": {c: c for c in SHARED_CATEGORIES},
            },
            "write_fields": ["assignee", "priority", "category"],
            "untriaged": {"assignee": [str(desk.queues["Service Desk"])]},
        },
    )
    assert made.status_code == 201, made.text
    yield Stack(settings, api, desk, make_session_factory(engine))
    desk.stop()
    api.close()
    live.stop()
    engine.dispose()


def our_note(desk: DjangoHelpdesk, ticket_id: int) -> dict | None:
    notes = [f for f in desk.get_ticket(ticket_id)["followup_set"] if MARKER in (f["comment"] or "")]
    assert len(notes) <= 1, notes
    return notes[0] if notes else None


def stored(stack: Stack, remote_id: int) -> tuple[Ticket, Suggestion | None]:
    with session_scope(stack.sessions) as session:
        ticket = session.scalar(select(Ticket).where(Ticket.external_id == f"desk:{remote_id}"))
        assert ticket is not None, f"desk:{remote_id} not stored"
        query = select(Suggestion).where(Suggestion.ticket_id == ticket.id).order_by(Suggestion.id.desc())
        suggestion = session.scalars(query).first()
        session.expunge_all()
        return ticket, suggestion


def deliveries(stack: Stack, event_type: str, remote_id: int) -> list[dict]:
    items = stack.api.get("/v1/connectors/desk/deliveries", params={"limit": 200}).json()["items"]
    return [d for d in items if d["event_type"] == event_type and d["subject"].endswith(f":{remote_id}")]


def triaged(stack: Stack, title: str, body: str, **extra: Any) -> tuple[dict, dict]:
    """A ticket created in django-helpdesk (in the Service Desk inbox, normal priority) and our note on it, once
    the write-back is done (the note goes first, then the fields)."""
    ticket = stack.desk.create_ticket(title, body, stack.desk.queues["Service Desk"], priority=3, **extra)
    note = wait_for(lambda: our_note(stack.desk, ticket["id"]), f"our note on ticket {ticket['id']}")
    written = lambda: [d["state"] for d in deliveries(stack, "connector.write_back", ticket["id"])] == ["delivered"]  # noqa: E731
    wait_for(written, f"the write-back to ticket {ticket['id']}")
    return ticket, note


def test_a_new_ticket_gets_our_private_note_and_the_fields_we_are_sure_of(stack):
    desk = stack.desk
    ticket, note = triaged(
        stack,
        "Intranet unreachable from the Hamburg office",
        "Since this morning nobody in Hamburg can open the intranet: the name does not resolve. Other sites fine.",
    )
    assert note["public"] is False
    ours, suggestion = stored(stack, ticket["id"])
    assert (ours.channel, ours.status, ours.subject) == ("django-helpdesk", "new", ticket["title"])
    assert f"{MARKER}{suggestion.id}" in note["comment"]
    for line in ("Team:", "Priority:", "Category:"):
        assert line in note["comment"]
    for article in suggestion.articles:
        assert f"/help/{article['slug']}" in note["comment"]
    now = desk.get_ticket(ticket["id"])
    inbox = str(desk.queues["Service Desk"])
    expected = {"assignee": inbox, "priority": "3", "category": None}
    reverse = {
        "assignee": {TEAMS[t]: str(q) for t, q in desk.queues.items()},
        "priority": {"urgent": "1", "high": "2", "normal": "3", "low": "4"},
        "category": {c: c for c in SHARED_CATEGORIES},
    }
    for name, prediction in suggestion.predictions.items():
        theirs = reverse.get(name, {}).get(prediction["label"]) if prediction["status"] == "ok" else None
        if theirs is not None:
            expected[name] = theirs  # confident, unset there (inbox queue, default priority, no category)
    assert expected != {"assignee": inbox, "priority": "3", "category": None}, "nothing confident: a vacuous check"
    got = {"assignee": str(now["queue"]), "priority": str(now["priority"]), "category": now.get("custom_category")}
    assert got == {k: v or None for k, v in expected.items()}, (suggestion.predictions, got)
    assert now["title"] == ticket["title"]
    received = stack.api.get("/v1/connectors/desk/inbound").json()
    assert any(r["remote_id"] == str(ticket["id"]) and r["outcome"] == "triaged" for r in received)
    write = deliveries(stack, "connector.write_back", ticket["id"])
    assert [w["state"] for w in write] == ["delivered"] and "note added" in write[0]["log"][-1]["response"]
    assert not any(MARKER in mail for mail in desk.sent_mail())  # the customer is never sent it


def test_a_field_a_person_chose_is_never_overwritten(stack):
    desk = stack.desk
    ticket = desk.create_ticket(
        "VPN keeps disconnecting", "GlobalProtect drops every ten minutes at home.", desk.queues["Access"], priority=5
    )
    wait_for(lambda: our_note(desk, ticket["id"]), "our note")
    wait_for(lambda: deliveries(stack, "connector.write_back", ticket["id"])[0]["state"] == "delivered", "write-back")
    now = desk.get_ticket(ticket["id"])
    assert (now["queue"], now["priority"]) == (desk.queues["Access"], 5)


def test_resolving_there_resolves_here_with_the_agents_labels_counted_as_overrides(stack):
    desk = stack.desk
    ticket, _ = triaged(stack, "Need access to the finance share", "Please give me write access to \\\\fs01\\finance.")
    desk.client.patch(f"tickets/{ticket['id']}/", json={"queue": desk.queues["Access"], "priority": 2})
    desk.resolve(ticket["id"], "Added her to the Finance-RW group; she can write to the share now.")
    wait_for(lambda: stored(stack, ticket["id"])[0].status == "resolved", "the resolution here")
    ours, suggestion = stored(stack, ticket["id"])
    assert (ours.assignee, ours.priority) == ("Identity & Access", "high")
    assert ours.resolution == "Added her to the Finance-RW group; she can write to the share now."
    with session_scope(stack.sessions) as session:
        feedback = {f.field: f for f in session.scalars(select(Feedback).where(Feedback.ticket_id == ours.id))}
        for name, value in (("assignee", "Identity & Access"), ("priority", "high")):
            predicted = suggestion.predictions[name].get("label")
            assert feedback[name].value == value and feedback[name].source == "resolve"
            assert feedback[name].action == ("accepted" if predicted == value else "overridden")
            assert feedback[name].actor == "connector:desk"
    desk.add_followup(ticket["id"], "Reopened: the share is read-only again.", new_status=2)
    wait_for(lambda: stored(stack, ticket["id"])[0].status == "open", "the reopening here")


def test_replays_and_forgeries_store_nothing(stack):
    desk = stack.desk
    ticket, _ = triaged(stack, "Outlook asks for my password", "Every few minutes Outlook prompts for my password.")
    body = json.dumps({"ticket": desk.get_ticket(ticket["id"]), "queue_slug": "service-desk"})
    headers = {"content-type": "application/json"}
    url = "/v1/connectors/desk/events"
    for query in ({}, {"token": "not-it"}):
        forged = stack.api.post(url, params=query, content=body, headers={**headers, "Authorization": ""})
        assert forged.status_code == 401 and forged.json()["field"] == "token"
    replayed = stack.api.post(url, params={"token": TOKEN}, content=body, headers={**headers, "Authorization": ""})
    assert replayed.status_code == 202 and replayed.json()["status"] == "duplicate"
    with session_scope(stack.sessions) as session:
        same = session.scalars(select(Ticket.id).where(Ticket.external_id == f"desk:{ticket['id']}")).all()
    assert len(same) == 1
    assert len(deliveries(stack, "connector.received", ticket["id"])) == 1


def _redeliver(stack: Stack, delivery: dict) -> dict:
    answer = stack.api.post(f"/v1/connectors/desk/deliveries/{delivery['id']}/redeliver")
    assert answer.status_code == 202, answer.text

    def settled() -> dict | None:
        items = stack.api.get("/v1/connectors/desk/deliveries", params={"limit": 200}).json()["items"]
        now = next(d for d in items if d["id"] == delivery["id"])
        return now if now["state"] in ("delivered", "failed") else None

    return wait_for(settled, f"delivery {delivery['id']} to settle")


def test_a_write_back_is_retried_while_the_helpdesk_is_down_then_failed_and_redelivered_once(stack):
    desk = stack.desk
    ticket, _ = triaged(stack, "Printer on the 3rd floor offline", "The MFP shows offline for everyone.")
    (write,) = deliveries(stack, "connector.write_back", ticket["id"])
    stack.api.patch("/v1/connectors/desk", json={"base_url": f"http://127.0.0.1:{free_port()}/helpdesk"})
    try:
        failed = _redeliver(stack, write)
    finally:
        stack.api.patch("/v1/connectors/desk", json={"base_url": desk.base_url})
    assert failed["state"] == "failed" and failed["attempts"] == FAST.max_attempts
    assert "did not answer" in failed["last_error"]
    tries = failed["log"][-FAST.max_attempts :]  # after the first write-back's own entry
    assert len(failed["log"]) == 1 + FAST.max_attempts and all("did not answer" in t["error"] for t in tries)
    again = _redeliver(stack, write)
    assert again["state"] == "delivered" and again["log"][-1]["response"] == "nothing to write"
    assert our_note(desk, ticket["id"]) is not None  # still exactly one


def test_a_ticket_deleted_there_is_recorded_and_not_retried(stack):
    desk = stack.desk
    ticket, _ = triaged(stack, "Old laptop to return", "Where do I drop off my old laptop?")
    (write,) = deliveries(stack, "connector.write_back", ticket["id"])
    desk.delete_ticket(ticket["id"])
    gone = _redeliver(stack, write)
    assert gone["state"] == "failed" and gone["attempts"] == 1 and gone["last_status"] == 404
    assert f"no ticket {ticket['id']}" in gone["last_error"]


def test_backfill_imports_the_history_once_and_a_retrain_learns_from_it(stack, tmp_path):
    desk, api = stack.desk, stack.api
    assert api.patch("/v1/connectors/desk", json={"active": False}).json()["active"] is False  # webhooks ignored
    history = [
        ("Wifi drops in meeting room 4", "The guest wifi drops every few minutes.", "Network", 2, "Network & VPN"),
        ("New monitor needed", "My second screen flickers and died today.", "Hardware", 4, "Hardware"),
        ("Locked out after holiday", "My account is locked after three weeks away.", "Access", 3, None),
    ]
    made = []
    for title, body, queue, priority, category in history:
        extra = {"custom_category": category} if category else {}
        ticket = desk.create_ticket(title, body, desk.queues[queue], priority=priority, **extra)
        desk.resolve(ticket["id"], f"Done: {title.lower()}.")
        made.append(ticket["id"])
    api.patch("/v1/connectors/desk", json={"active": True})

    def run() -> dict:
        job = api.post("/v1/connectors/desk/backfill").json()
        done = wait_for(lambda: (j := api.get(job["url"]).json())["state"] in ("succeeded", "failed") and j, "backfill")
        assert done["state"] == "succeeded", done
        return done["result"]

    first = run()
    assert first["created"] >= len(made) and first["finished"] is True
    for remote_id, (title, _, queue, priority, category) in zip(made, history, strict=True):
        ours, _ = stored(stack, remote_id)
        assert (ours.status, ours.subject, ours.assignee) == ("resolved", title, TEAMS[queue])
        assert ours.priority == {2: "high", 3: "normal", 4: "low"}[priority] and ours.category == category
        assert ours.resolution == f"Done: {title.lower()}."
    assert run()["created"] == 0  # idempotent: every ticket is known
    job = api.post("/v1/models/train", json={}).json()
    trained = wait_for(
        lambda: (j := api.get(job["url"]).json())["state"] in ("succeeded", "failed") and j, "training", 300
    )
    assert trained["state"] == "succeeded", trained
    bundle = Path(trained["result"]["path"])
    learned = {t["external_id"] for t in json.loads((bundle / "tickets.json").read_text())}
    learned |= {t.get("external_id") for t in json.loads((bundle / "holdout.json").read_text()).get("tickets", [])}
    assert {f"desk:{i}" for i in made} & learned, "the retrain saw none of the backfilled tickets"


def test_the_readme_commands_connect_test_and_backfill_a_real_django_helpdesk(stack, deployments):
    """The README's connector commands, run as written but for the helpdesk's address and user (and without
    the retrain, which the backfill test above does through the API)."""
    import shlex

    from tests.processes import helpdesk, settings_env

    section = (Path(__file__).resolve().parents[2] / "README.md").read_text().split("## Connectors", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines() if line.startswith("helpdesk ")]
    assert [c.split()[:2] for c in commands][:3] == [["helpdesk", "connectors"]] * 3
    solved = stack.desk.create_ticket("Scanner sends no mail", "Scan to e-mail fails on the 1st floor.", 3)
    stack.desk.resolve(solved["id"], "Renewed the scanner's SMTP password.")
    settings = deployments.copy("sqlite", "loaded")
    env = settings_env(settings, DESK_PASSWORD=stack.desk.password, HELPDESK_WEBHOOK_ALLOW_NETWORKS="loopback")
    outputs = []
    for command in commands[:3]:
        command = command.replace("https://desk.example.org/helpdesk", stack.desk.base_url)
        command = command.replace("user=triage", f"user={stack.desk.user}")
        done = helpdesk(settings, *shlex.split(command)[1:], env=env)
        assert done.returncode == 0, (command, done.stderr[-2000:])
        outputs.append(done.stdout)
    assert "/v1/connectors/desk/events" in outputs[0] and "webhook secret: " in outputs[0]
    assert outputs[1].startswith("ok: admin on django-helpdesk")
    assert json.loads(outputs[2].splitlines()[-1])["created"] >= 1 and "secret" not in outputs[2]
    with session_scope(make_session_factory(make_engine(settings.database.url))) as session:
        backfilled = session.scalars(select(Ticket).where(Ticket.external_id.like("desk:%"))).all()
        assert all(t.status == "resolved" and t.channel == "django-helpdesk" for t in backfilled)
        assert f"desk:{solved['id']}" in {t.external_id for t in backfilled}
