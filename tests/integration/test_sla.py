"""Service levels over real HTTP on a copy of the demo deployment: demo tickets' due times respect Dutch
holidays, a new ticket is clocked from its predicted priority, an override and a reply move the clock,
bad policies are refused naming the field with nothing saved, and the watch lists and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.app import create_app
from models import Ticket, TicketSla
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, key_for, keyed_client
from triage.sla.store import active_policy

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, deployments, encoder, tmp_path_factory):
    """A copy of the demo deployment of its own (the tests save policies); its settings and an admin client."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"sla-{request.param}"))
    with keyed_client(create_app(settings, encoder=encoder)) as client:
        yield settings, client


def _sessions(settings):
    return make_session_factory(make_engine(settings.database.url))


def test_demo_tickets_are_due_in_dutch_business_hours(deployment):
    settings, _ = deployment
    with session_scope(_sessions(settings)) as session:
        _, policy = active_policy(session)
        calendar = policy.calendar
        rows = session.execute(select(TicketSla, Ticket).join(Ticket, Ticket.id == TicketSla.ticket_id)).all()
        assert len(rows) == 349
        spanning = 0
        for row, ticket in rows:
            assert row.priority_source == "set"
            due = row.resolution_due
            assert due == calendar.add(ticket.created_at, row.resolution_minutes * 60)
            local = due.astimezone(calendar.zone)
            assert local.weekday() < 5 and not calendar.is_holiday(local.date()), (ticket.external_id, local)
            days = (local.date() - ticket.created_at.astimezone(calendar.zone).date()).days
            span = [ticket.created_at.astimezone(calendar.zone).date() + timedelta(days=d) for d in range(days)]
            spanning += any(calendar.is_holiday(d) and d.weekday() < 5 for d in span)
        assert spanning >= 1  # some demo tickets' clocks ran across a Dutch public holiday
        assert {row.state for row, _ in rows} <= {"met", "breached"}


def test_a_new_ticket_is_clocked_and_moved_by_the_desk(deployment):
    _, client = deployment
    created = client.post("/v1/tickets", json={"subject": "VPN keeps disconnecting", "body": "GlobalProtect drops"})
    assert created.status_code == 201, created.text
    ticket = created.json()
    sla = ticket["sla"]
    predicted = ticket["suggestion"]["predictions"]["priority"]
    assert sla["priority_source"] == "predicted"
    assert sla["priority"] == (predicted["label"] or predicted["top"]["label"])
    assert sla["state"] in ("on_track", "at_risk") and sla["resolution_due"] and sla["first_response_due"]
    assert sla["resolution_estimate_hours"]["neighbours"] == 20 and sla["breach_probability"] is not None

    tid = ticket["id"]
    urgent = client.patch(f"/v1/tickets/{tid}", json={"priority": "urgent"}).json()["sla"]
    assert (urgent["priority"], urgent["priority_source"], urgent["resolution_minutes"]) == ("urgent", "set", 240)
    assert urgent["resolution_due"] < sla["resolution_due"]

    pending = client.patch(f"/v1/tickets/{tid}", json={"status": "pending"}).json()["sla"]
    assert pending["paused"] and pending["resolution_due"] is None and pending["state"] in ("paused", "breached")
    resumed = client.patch(f"/v1/tickets/{tid}", json={"status": "open"}).json()["sla"]
    assert not resumed["paused"] and resumed["resolution_due"] >= urgent["resolution_due"]

    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    refused = client.post(f"/v1/tickets/{tid}/responses", json={"at": future})
    assert refused.status_code == 422 and refused.json()["field"] == "at"
    replied = client.post(f"/v1/tickets/{tid}/responses", json={"author": "ann", "body": "Looking into it"})
    assert replied.status_code == 201, replied.text
    assert replied.json()["sla"]["first_response_at"]
    thread = client.get(f"/v1/tickets/{tid}/messages").json()
    assert [(m["direction"], m["kind"]) for m in thread] == [("out", "reply")]

    listed = client.get("/v1/tickets", params={"status": "open"}).json()["items"]
    assert next(t for t in listed if t["id"] == tid)["sla"]["state"] == resumed["state"]
    watch = client.get("/v1/sla/tickets").json()
    assert tid in [t["id"] for t in watch["items"]] and watch["total"] >= 1
    assert client.get("/v1/sla/tickets", params={"state": "late"}).status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"calendar": {"timezone": "Mars/Olympus", "hours": {"mon": ["09:00", "17:00"]}}}, "calendar.timezone"),
        ({"calendar": {"hours": {}}}, "calendar.hours"),
        ({"targets": [{"priority": "urgent", "resolution_minutes": 0}]}, "targets[0].resolution_minutes"),
        ({"targets": [{"priority": "low", "first_response_minutes": -5}]}, "targets[0].first_response_minutes"),
    ],
)
def test_bad_policies_are_refused_and_nothing_is_saved(deployment, change, field):
    _, client = deployment
    before = client.get("/v1/sla/policy").json()
    refused = client.put("/v1/sla/policy", json={**before["policy"], **change})
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert refused.json()["field"] == field, refused.text
    assert client.get("/v1/sla/policy").json()["version"] == before["version"]


def test_policies_are_saved_by_admins_and_reported(deployment):
    settings, client = deployment
    current = client.get("/v1/sla/policy").json()
    agent = {"Authorization": f"Bearer {key_for(settings.database.url, 'agent')}"}
    assert client.put("/v1/sla/policy", json=current["policy"], headers=agent).status_code == 403
    assert client.get("/v1/sla/policy", headers=agent).status_code == 200
    saved = client.put("/v1/sla/policy", json={**current["policy"], "at_risk_probability": 0.6})
    assert saved.status_code == 200 and saved.json()["version"] == current["version"] + 1
    report = client.get("/v1/sla/report", params={"weeks": 104}).json()
    assert {row["priority"] for row in report["by_priority"]} == {"urgent", "high", "normal", "low"}
    assert sum(row["tickets"] for row in report["by_priority"]) >= 349
