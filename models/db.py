"""Engine and session factories (SQLite in WAL mode with a busy timeout, or PostgreSQL)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ("make_engine", "make_session_factory", "page", "session_scope", "use_wal")

Row = TypeVar("Row")


def use_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Put the SQLite database of ``conn`` in WAL mode (the file keeps it). Switching needs the database to
    itself, and SQLite answers "database is locked" at once, without waiting out the busy timeout, when
    another process switches it too (several processes opening a new file at once): so the mode is read
    first and the switch retried until ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def make_engine(url: str, *, busy_timeout_ms: int = 5000, echo: bool = False) -> Engine:
    """Create an engine; SQLite files get WAL journaling, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False}
        )

        @event.listens_for(engine, "savepoint")
        def _begin_before_savepoint(conn, _name) -> None:
            # The sqlite3 driver opens a transaction only before a write, so a SAVEPOINT taken before the
            # first write would open one itself, and its RELEASE would commit: the rows written inside
            # it would survive a rollback of the unit of work (or the process dying before the commit).
            dbapi_conn = conn.connection.dbapi_connection
            if not dbapi_conn.in_transaction:
                dbapi_conn.execute("BEGIN")

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            use_wal(dbapi_conn, busy_timeout_ms / 1000)
            cursor = dbapi_conn.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def page(session: Session, query: Select[tuple[Row]], *order_by: Any, limit: int, offset: int) -> tuple[list[Row], int]:
    """One page of ``query``'s rows in ``order_by`` order, and how many rows it has in all."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return list(session.scalars(query.order_by(*order_by).limit(limit).offset(offset))), total
