"""Served suggestions' audit events: handed to one writer thread, written in batches, none lost on a stop."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from models.audit import Actor, list_audit
from models.audit_writer import AuditWriter
from models.db import session_scope


def _served(sessions) -> list:
    with session_scope(sessions) as session:
        return list_audit(session, action="prediction.served", limit=1000)[0]


def test_events_from_many_threads_are_all_written_with_what_they_say(sessions):
    writer = AuditWriter(sessions)
    agent = Actor("portal-widget", "agent", None)

    def serve(n: int) -> None:
        writer.record(agent, "prediction.served", None, bundle_version="v1", labels={"category": f"c{n}"})

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(serve, range(200)))
        assert writer.flush()
        events = _served(sessions)
        assert len(events) == writer.written == 200
        assert {e.detail["labels"]["category"] for e in events} == {f"c{n}" for n in range(200)}
        assert {(e.actor, e.role, e.detail["bundle_version"]) for e in events} == {("portal-widget", "agent", "v1")}
    finally:
        writer.close()


def test_a_stop_writes_what_is_still_queued(sessions):
    writer = AuditWriter(sessions)
    for n in range(30):
        writer.record(None, "prediction.served", f"ticket:{n}", bundle_version=None, labels={})
    writer.close()
    assert len(_served(sessions)) == 30


def test_a_database_that_fails_loses_that_batch_only_and_says_so(sessions, caplog):
    writer = AuditWriter(sessions)
    try:
        writer.record(None, "prediction.served", None, detail_that_is_not_json=object())  # cannot be stored
        assert writer.flush()
        assert "could not write 1 audit events" in caplog.text
        writer.record(None, "prediction.served", None, bundle_version="v2", labels={})
        assert writer.flush() and [e.detail["bundle_version"] for e in _served(sessions)] == ["v2"]
    finally:
        writer.close()
