from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from models import ArtifactVersion, Ticket
from models.db import make_engine, session_scope
from models.migrate import downgrade, upgrade

TABLES = {
    "articles",
    "article_revisions",
    "article_chunks",
    "tickets",
    "suggestions",
    "artifact_versions",
    "portal_suggestions",
    "portal_events",
    "feedback",
    "jobs",
    "api_keys",
    "audit_events",
    "erasures",
    "macros",
    "assist_feedback",
    "incident_events",
    "deployment_secrets",
    "outbox_events",
    "webhook_subscriptions",
    "webhook_deliveries",
    "ticket_messages",
    "inbound_mail",
}


def test_migrations_upgrade_downgrade_and_upgrade_again(db_url: str):
    engine = make_engine(db_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    downgrade(db_url)
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(db_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_migrations_build_exactly_what_the_models_declare(db_url: str):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from models import Base
    from models.migrate import ours

    engine = make_engine(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": ours}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    engine = make_engine(url, busy_timeout_ms=1234)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 1234
    engine.dispose()


def test_database_allows_one_active_bundle_per_kind(sessions):
    with session_scope(sessions) as session:
        session.add(ArtifactVersion(kind="triage", version="a", path="/a", state="active"))
        session.add(ArtifactVersion(kind="other", version="a", path="/b", state="active"))
        session.add(ArtifactVersion(kind="triage", version="b", path="/c", state="retired"))
    with pytest.raises(IntegrityError), session_scope(sessions) as session:
        session.add(ArtifactVersion(kind="triage", version="c", path="/d", state="active"))


def test_external_id_is_unique(sessions):
    with session_scope(sessions) as session:
        session.add(Ticket(subject="a", body="", external_id="X-1", content_hash="h"))
    with pytest.raises(IntegrityError), session_scope(sessions) as session:
        session.add(Ticket(subject="b", body="", external_id="X-1", content_hash="h"))


def test_rows_written_inside_a_savepoint_go_with_the_unit_of_works_rollback(sessions):
    """SQLite's driver opened no transaction before the first write, so a savepoint taken first committed
    on release: a ticket from mail was kept while the rest of its unit of work (the record that the mail
    was processed) was lost with the process."""
    with pytest.raises(RuntimeError), session_scope(sessions) as session:
        session.scalar(text("SELECT 1"))
        with session.begin_nested():
            session.add(Ticket(subject="kept?", body="", content_hash="h"))
        raise RuntimeError("the process dies before the commit")
    with session_scope(sessions) as session:
        assert session.query(Ticket).filter(Ticket.subject == "kept?").count() == 0


def test_each_migration_downgrades_and_upgrades_one_step_at_a_time(db_url: str):
    from alembic.script import ScriptDirectory

    from models.migrate import alembic_config

    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config(db_url)).walk_revisions()]
    engine = make_engine(db_url)
    for revision in revisions:  # newest first
        downgrade(db_url, "-1")
        upgrade(db_url, revision)
        downgrade(db_url, "-1")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(db_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()


def test_the_audit_trail_refuses_updates_and_deletes(sessions):
    from sqlalchemy.exc import DBAPIError

    from models import AuditEvent
    from models.audit import Actor, record_audit

    with session_scope(sessions) as session:
        record_audit(session, Actor("ann", "admin", 1), "key.created", "key:1", role="agent")
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), session_scope(sessions) as session:
            session.execute(text(statement))
    with session_scope(sessions) as session:
        (event,) = session.query(AuditEvent).all()
        assert (event.actor, event.role, event.key_id, event.detail) == ("ann", "admin", 1, {"role": "agent"})


def test_the_hardening_migration_keys_earlier_erasures_and_keeps_the_audit_trail_append_only(db_url: str):
    import hashlib

    from models.secrets import keyed_identity

    downgrade(db_url, "0005")
    plain = hashlib.sha256(b"jan@example.nl").hexdigest()  # how erasures named a requester before
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO erasures (requester_hash, ticket_ids, at) VALUES (:h, '[1]', '2026-01-01')"), {"h": plain}
        )
        conn.execute(
            text(
                "INSERT INTO audit_events (at, actor, action, target, detail) "
                "VALUES ('2026-01-01', 'admin', 'requester.erased', :t, '{}')"
            ),
            {"t": f"requester:{plain[:16]}"},
        )
    upgrade(db_url)
    with engine.begin() as conn:
        secret = conn.execute(text("SELECT value FROM deployment_secrets WHERE name = 'identity'")).scalar_one()
        keyed = keyed_identity(secret.encode(), " Jan@Example.NL ")
        assert conn.execute(text("SELECT requester_hash FROM erasures")).scalar_one() == keyed
        assert conn.execute(text("SELECT target FROM audit_events")).scalar_one() == f"requester:{keyed[:16]}"
    with pytest.raises(Exception, match="append-only"), engine.begin() as conn:
        conn.execute(text("UPDATE audit_events SET target = 'x'"))
    engine.dispose()


def test_wal_is_switched_on_once_another_process_lets_go_of_a_new_file(tmp_path):
    import sqlite3
    import threading

    from models.db import use_wal

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")  # another process busy with the new file
    opener = sqlite3.connect(path, timeout=0)  # no busy wait: only the retry can get it through
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        opener.execute("PRAGMA journal_mode=WAL")
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    use_wal(opener, timeout_s=10)
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    opener.close()
    holder.close()
