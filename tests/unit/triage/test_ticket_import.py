from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models import Ticket
from models.db import session_scope
from triage.desk.ticket_import import import_tickets, parse_mapping
from triage.errors import InvalidImport

CSV = """Ticket No,Title,Description,Cat,Prio,Team,Fix,Opened
T-1,VPN password forgotten,Cannot log in to GlobalProtect,Network,high,Network Ops,Reset it,2025-02-01T10:00:00Z
T-2,Printer jam,Third floor printer jammed again,Printing,normal,Devices,Cleared the jam,2025-02-02 09:30:00
T-3,Question about invoice,Where is my invoice?,,,,,
"""
MAP = [
    "external_id=Ticket No",
    "subject=Title",
    "body=Description",
    "category=Cat",
    "priority=Prio",
    "assignee=Team",
    "resolution=Fix",
    "created_at=Opened",
]


def _count(sessions) -> int:
    with session_scope(sessions) as session:
        return session.scalar(select(func.count()).select_from(Ticket))


def test_csv_with_mapping_imports_history_once(sessions, tmp_path: Path):
    path = tmp_path / "tickets.csv"
    path.write_text(CSV)
    with session_scope(sessions) as session:
        assert import_tickets(session, path, parse_mapping(MAP)) == {"created": 3}
    with session_scope(sessions) as session:
        assert import_tickets(session, path, parse_mapping(MAP)) == {"skipped": 3}
        rows = {t.external_id: t for t in session.scalars(select(Ticket))}
    assert rows["T-1"].status == "resolved" and rows["T-1"].category == "Network"
    assert rows["T-1"].created_at.year == 2025 and rows["T-1"].resolved_at is not None
    assert rows["T-3"].status == "new" and rows["T-3"].category is None
    assert _count(sessions) == 3


def test_jsonl_without_external_ids_is_still_idempotent(sessions, tmp_path: Path):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(json.dumps({"subject": f"s{i}", "body": "b", "category": "c"}) for i in range(4)))
    for _ in range(2):
        with session_scope(sessions) as session:
            import_tickets(session, path)
    assert _count(sessions) == 4


@pytest.mark.parametrize(
    ("content", "suffix", "mapping", "field"),
    [
        (CSV, ".csv", ["subject=Headline"], "map.subject"),
        (CSV, ".csv", ["colour=Title"], "map.colour"),
        (CSV, ".csv", ["subject=Title", "created_at=Fix"], "row 1.created_at"),
        ('{"subject": "ok"}\n{"subject": "x", "body": "y"\n', ".jsonl", [], "line 2"),
        ('{"subject": "ok"}\n{"subject": "", "body": ""}\n', ".jsonl", [], "row 2.subject"),
        ('{"subject": "ok", "status": "weird"}\n', ".jsonl", [], "row 1.status"),
        ("a,b\n1,2\n", ".txt", [], "file"),
    ],
)
def test_bad_files_name_the_field_and_import_nothing(sessions, tmp_path, content, suffix, mapping, field):
    path = tmp_path / f"bad{suffix}"
    path.write_text(content)
    with pytest.raises(InvalidImport) as info, session_scope(sessions) as session:
        import_tickets(session, path, parse_mapping(mapping))
    assert info.value.field == field
    assert _count(sessions) == 0
