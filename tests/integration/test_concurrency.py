"""Concurrent writers and killed imports against a SQLite file: no "database is locked", nothing
half-imported, and a killed import simply runs again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from models import Ticket
from tests.conftest import make_settings
from tests.integration.test_cli import count
from tests.processes import finish, helpdesk, kill_when, launch

pytestmark = pytest.mark.slow  # real helpdesk processes


@pytest.fixture
def sqlite_settings(databases, tmp_path: Path):
    return make_settings(databases.new("sqlite"), tmp_path)


def _write_tickets(path: Path, prefix: str, n: int) -> Path:
    topics = ["VPN drops", "Printer jammed", "Invoice missing", "Outlook will not sync", "Laptop is slow"]
    path.write_text(
        "".join(
            json.dumps(
                {
                    "external_id": f"{prefix}-{i}",
                    "subject": f"{topics[i % len(topics)]} ({prefix} {i})",
                    "body": f"Ticket {i} from batch {prefix}: {topics[(i * 7) % len(topics)].lower()} again.",
                    "category": topics[i % len(topics)],
                }
            )
            + "\n"
            for i in range(n)
        )
    )
    return path


def test_four_processes_import_at_once_without_locking_errors(sqlite_settings, tmp_path: Path):
    files = [_write_tickets(tmp_path / f"batch-{p}.jsonl", f"P{p}", 300) for p in range(4)]
    processes = [launch(sqlite_settings, "tickets", "import", str(f)) for f in files]
    for result in [finish(p, timeout=300) for p in processes]:
        assert result.returncode == 0 and "300 created" in result.stdout, result.stderr[-2000:]
        assert "locked" not in result.stderr
    assert count(sqlite_settings, Ticket) == 1200


def test_an_import_killed_half_way_leaves_nothing_and_runs_again(sqlite_settings, tmp_path: Path):
    source = _write_tickets(tmp_path / "history.jsonl", "H", 6000)
    kill_when(sqlite_settings, "tickets:", "tickets", "import", str(source))  # the import loop has started
    assert count(sqlite_settings, Ticket) == 0  # killed before its one commit: nothing half-imported
    again = helpdesk(sqlite_settings, "tickets", "import", str(source))
    assert again.returncode == 0, again.stderr[-2000:]
    assert count(sqlite_settings, Ticket) == 6000
