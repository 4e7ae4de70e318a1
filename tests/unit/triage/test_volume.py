from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models import Ticket
from models.db import session_scope
from triage.analytics.volume import ticket_volume


def test_volume_per_week_and_category_with_the_rest_as_other(sessions):
    monday = datetime(2026, 11, 2, 9, tzinfo=UTC)
    rows = [(0, "Network"), (1, "Network"), (2, "Printing"), (7, "Network"), (8, None), (9, "Billing")]
    with session_scope(sessions) as session:
        for n, (day, category) in enumerate(rows):
            created = monday + timedelta(days=day)
            session.add(Ticket(subject=f"t{n}", body="", content_hash=f"h{n}", category=category, created_at=created))
    with session_scope(sessions) as session:
        report = ticket_volume(session, bucket="week", top=2)
        assert report["categories"] == ["Network", "(none)", "other"]  # busiest first, ties by name
        assert report["total"] == 6
        assert [s["period"] for s in report["series"]] == ["2026-W45", "2026-W46"]
        assert report["series"][0]["total"] == 3 and report["series"][1]["total"] == 3
        assert report["series"][0]["counts"] == {"Network": 2, "other": 1}
        daily = ticket_volume(session, bucket="day", since=monday + timedelta(days=7))
        assert [s["period"] for s in daily["series"]] == ["2026-11-09", "2026-11-10", "2026-11-11"]
        assert daily["series"][1]["counts"] == {"(none)": 1}
