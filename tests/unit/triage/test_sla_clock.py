"""Each ticket's SLA clock on a real database, at fixed moments: due times at intake, a priority override,
the pause while pending, the first response, breaches and their events (sent once), history backfill."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from models import OutboxEvent, Ticket, TicketSla
from models.db import session_scope
from triage.desk.ticket_import import store_tickets
from triage.sla.store import record_first_response, retarget, save_policy, start_clock, ticket_status_changed
from triage.sla.watch import attainment, list_sla_tickets, watch_clocks

POLICY = json.loads((Path(__file__).parents[3] / "data" / "sla" / "policy.json").read_text(encoding="utf-8"))
MONDAY = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam


def _ticket(session, created: datetime, priority: str | None = "high", **values) -> Ticket:
    ticket = Ticket(
        subject=values.pop("subject", "VPN drops every hour"),
        body="",
        status=values.pop("status", "new"),
        priority=priority,
        content_hash="x",
        created_at=created,
        **values,
    )
    session.add(ticket)
    session.flush()
    return ticket


def _history(hours: float, n: int = 5) -> list[dict]:
    start = datetime(2026, 5, 4, 7, 0, tzinfo=UTC)  # Monday 09:00 CEST
    return [
        {
            "external_id": f"H-{hours}-{i}",
            "subject": f"old ticket {i}",
            "body": "",
            "status": "resolved",
            "priority": "high",
            "created_at": start + timedelta(days=7 * i),
            "resolved_at": start + timedelta(days=7 * i, hours=hours),
            "content_hash": "x",
        }
        for i in range(n)
    ]


def test_due_times_pause_and_override(sessions):
    with session_scope(sessions) as session:
        save_policy(session, POLICY, "test", now=MONDAY)
        ticket = _ticket(session, MONDAY)
        row = start_clock(session, ticket, now=MONDAY)
        assert (row.priority, row.priority_source, row.state) == ("high", "set", "on_track")
        assert row.first_response_due == MONDAY + timedelta(hours=1)
        assert row.resolution_due == datetime(2026, 6, 2, 7, 0, tzinfo=UTC)  # 7.5 h Monday, 0.5 h Tuesday

        record_first_response(session, ticket, MONDAY + timedelta(minutes=30))
        record_first_response(session, ticket, MONDAY + timedelta(minutes=50))  # only the first one counts
        assert row.first_response_at == MONDAY + timedelta(minutes=30)

        # pending from Monday 12:00 to Tuesday 10:00 (CEST): 7 business hours paused push the due time
        ticket.status = "pending"
        ticket_status_changed(session, ticket, "new", now=MONDAY + timedelta(hours=2))
        assert row.paused_at is not None
        watch_clocks(session, now=datetime(2026, 6, 2, 7, 30, tzinfo=UTC))
        assert row.state == "paused"  # past the old due time, but waiting for the customer stops the clock
        ticket.status = "open"
        ticket_status_changed(session, ticket, "pending", now=datetime(2026, 6, 2, 8, 0, tzinfo=UTC))
        assert row.paused_seconds == 7 * 3600
        assert row.resolution_due == datetime(2026, 6, 2, 14, 0, tzinfo=UTC)  # Tuesday 16:00 CEST

        ticket.priority = "urgent"  # an agent's override recomputes the due time: 4 h + the 7 h paused
        retarget(session, ticket, priority_set=True, now=datetime(2026, 6, 2, 8, 0, tzinfo=UTC))
        assert (row.priority, row.resolution_minutes) == ("urgent", 240)
        assert row.resolution_due == datetime(2026, 6, 2, 10, 0, tzinfo=UTC)  # Tuesday 12:00 CEST


def test_predicted_priority_breach_events_once_and_resolution(sessions):
    with session_scope(sessions) as session:
        save_policy(session, POLICY, "test", now=MONDAY)
        store_tickets(session, _history(hours=30))  # high tickets took 30 h: well past the 8 h target
        ticket = _ticket(session, MONDAY, priority=None)
        row = start_clock(session, ticket, now=MONDAY)
        assert row.priority is None and row.state == "none"  # no priority, none predicted: nothing promised

        ticket.priority = "high"
        retarget(session, ticket, priority_set=True, now=MONDAY)
        assert row.breach_probability > 0.5  # the priority's history says it will take longer
        counts = watch_clocks(session, now=MONDAY + timedelta(minutes=5))
        assert counts == {"at_risk": 1}
        watch_clocks(session, now=MONDAY + timedelta(minutes=10))
        late = datetime(2026, 6, 2, 9, 0, tzinfo=UTC)
        items, total = list_sla_tickets(session, "breached", now=late)
        assert total == 1 and items[0]["id"] == ticket.id and items[0]["sla"]["state"] == "breached"
        watch_clocks(session, now=late + timedelta(hours=1))
        events = session.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == f"ticket:{ticket.id}")).all()
        assert events == ["sla.at_risk", "sla.breached"]  # each sent once

        ticket.status = "resolved"
        ticket_status_changed(session, ticket, "new", now=late + timedelta(hours=2))
        assert row.state == "breached" and row.resolution_seconds == 12 * 3600  # 7.5 h Monday, 4.5 h Tuesday


def test_history_gets_clocks_and_attainment(sessions):
    with session_scope(sessions) as session:
        store_tickets(session, _history(hours=2, n=3))  # before any policy: no clocks
        assert session.scalar(select(TicketSla).limit(1)) is None
        save_policy(session, POLICY, "test", now=MONDAY)
        store_tickets(session, _history(hours=30, n=2))
        states = sorted(session.scalars(select(TicketSla.state)))
        assert states == ["breached", "breached", "met", "met", "met"]
        report = attainment(session, now=MONDAY)
        assert report["by_priority"] == [{"priority": "high", "met": 3, "tickets": 5, "attainment": 0.6}]
        assert len(report["weeks"]) == 3  # both histories start in the same week


def test_two_watchers_send_each_event_once(sessions):
    """Every server process watches the clocks; the one that marks the ticket first sends the event."""
    with session_scope(sessions) as session:
        save_policy(session, POLICY, "test", now=MONDAY)
        start_clock(session, _ticket(session, MONDAY), now=MONDAY)
    late = datetime(2026, 6, 3, 9, 0, tzinfo=UTC)
    first, second = sessions(), sessions()
    try:
        for session in (first, second):  # both have read the clock as not yet breached
            assert session.scalars(select(TicketSla)).one().breached_at is None
        assert watch_clocks(first, now=late) == {"breached": 1}
        first.commit()
        watch_clocks(second, now=late)
        second.commit()
    finally:
        first.close()
        second.close()
    with session_scope(sessions) as session:
        assert session.scalars(select(OutboxEvent.type)).all() == ["sla.breached"]
