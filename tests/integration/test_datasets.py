"""Imports of real public helpdesk data through the CLI's column mapping (``HELPDESK_DATASETS_DIR``)."""

from __future__ import annotations

import csv

from sqlalchemy import func, select

from models import Ticket
from models.db import session_scope
from triage.desk.ticket_import import import_tickets, parse_mapping

ENDAVA_MAP = ["subject=title", "body=body", "category=category", "priority=urgency", "assignee=business_service"]


def test_endava_it_tickets_import_as_labelled_history(sessions, datasets_dir):
    path = datasets_dir / "endava-it-tickets" / "tickets.csv"
    with path.open(newline="") as handle:
        distinct = {tuple(row.values()) for row in csv.DictReader(handle)}
    with session_scope(sessions) as session:
        counts = import_tickets(session, path, parse_mapping(ENDAVA_MAP))
    assert counts["created"] == len(distinct)  # identical rows are one ticket
    with session_scope(sessions) as session:
        assert import_tickets(session, path, parse_mapping(ENDAVA_MAP)).get("created", 0) == 0
        resolved = session.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "resolved"))
        categories = session.scalar(select(func.count(func.distinct(Ticket.category))))
    assert resolved == len(distinct)
    assert categories > 5


def test_banking77_queries_import_with_a_body_only_mapping(sessions, datasets_dir):
    path = datasets_dir / "banking77" / "test.csv"
    with session_scope(sessions) as session:
        counts = import_tickets(session, path, parse_mapping(["body=text", "category=category"]))
    assert counts["created"] > 3000
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count(func.distinct(Ticket.category)))) == 77
