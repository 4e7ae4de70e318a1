"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the real encoder, demo data."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_session_factory, session_scope
from models.migrate import upgrade
from models.settings import DatabaseSettings, ModelSettings, Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data"
POSTGRES_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"
BACKENDS = ["sqlite", "postgresql"]


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("HELPDESK_TEST_POSTGRES_URL is not set; CI runs the database tests against PostgreSQL")
    pytest.skip("set HELPDESK_TEST_POSTGRES_URL to run the database tests against PostgreSQL")


class _Databases:
    """Creates a fresh, migrated database per request and drops it afterwards."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def new(self, backend: str) -> str:
        name = f"helpdesk_t_{secrets.token_hex(4)}"
        if backend == "sqlite":
            url = f"sqlite:///{self.tmp / name}.db"
        else:
            admin = make_url(_postgres_or_skip()).set(drivername="postgresql+psycopg")
            engine = create_engine(admin, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
            self.created.append(name)
            url = admin.set(database=name).render_as_string(hide_password=False)
        upgrade(url)
        return url

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Databases]:
    dbs = _Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


def make_settings(url: str, root: Path) -> Settings:
    """Settings for a test: the given database, artifacts under ``root``."""
    base = Settings.from_env({})
    return replace(
        base,
        database=DatabaseSettings(url=url),
        models=ModelSettings(artifacts_dir=root / "artifacts"),
        data_dir=DEMO,
    )


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, databases: _Databases) -> str:
    """A fresh, migrated database on each backend."""
    return databases.new(request.param)


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path)


@pytest.fixture(scope="session")
def encoder():
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    from triage.encoder import load_encoder

    return load_encoder("minilm")


def load_demo_data(session: Session) -> None:
    """The demo articles and resolved tickets under ``data/``."""
    from kb.importer import import_folder
    from triage.ticket_import import import_tickets

    import_folder(session, DEMO / "kb")
    for file in sorted((DEMO / "tickets").glob("*.jsonl")):
        import_tickets(session, file)


def trained_demo(url: str, root: Path, encoder) -> Settings:
    """Settings for the database at ``url`` with the demo articles and tickets loaded and a bundle trained
    into ``root``."""
    from triage.training import train_bundle

    settings = make_settings(url, root)
    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        load_demo_data(session)
        train_bundle(session, encoder, settings.models.artifacts_dir)
    engine.dispose()
    return settings


@pytest.fixture(scope="session", params=BACKENDS)
def demo_settings(request: pytest.FixtureRequest, databases: _Databases, encoder, tmp_path_factory) -> Settings:
    """A database on each backend with the demo articles and tickets loaded and a bundle trained."""
    return trained_demo(databases.new(request.param), tmp_path_factory.mktemp(f"demo-{request.param}"), encoder)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """The shared datasets folder (``HELPDESK_DATASETS_DIR``); skipped when absent, a failure under CI."""
    path = Settings.from_env().datasets_dir
    if not path.is_dir():
        message = f"datasets folder {path} not found (set HELPDESK_DATASETS_DIR)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def new_key(sessions: sessionmaker[Session], role: str = "admin", *, rate_limit: int | None = 1_000_000) -> str:
    """A fresh API key for ``role`` (by default with a limit no test reaches)."""
    from triage.access import create_key

    with session_scope(sessions) as session:
        return create_key(session, role, f"test-{role}", rate_limit=rate_limit)[1]


def key_for(url: str, role: str = "admin", *, rate_limit: int | None = 1_000_000) -> str:
    """:func:`new_key` on the database at ``url``."""
    engine = make_engine(url)
    try:
        return new_key(make_session_factory(engine), role, rate_limit=rate_limit)
    finally:
        engine.dispose()


@contextmanager
def keyed_client(app, role: str = "admin"):
    """Litestar's test client for ``app`` sending a fresh ``role`` key with every request."""
    from litestar.testing import TestClient

    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {new_key(app.state.serving.sessions, role)}"
        yield client
