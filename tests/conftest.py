"""Shared fixtures: real databases (SQLite always, PostgreSQL when configured), the real encoder, demo data."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models.db import make_engine, make_session_factory, session_scope
from models.settings import DatabaseSettings, ModelSettings, Settings
from tests import THREADS
from tests.deployments import Databases, Snapshot, demo_snapshots, drop_run_databases
from tests.processes import live_servers, server_stacks

pytest_plugins = ["tests.timing"]

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "data"
# the triage fields the demo declares (data/fields.json): the built-in three and request_type
DEMO_FIELDS = {"category", "priority", "assignee", "request_type"}
POSTGRES_URL = os.environ.get("HELPDESK_TEST_POSTGRES_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"
# HELPDESK_TEST_BACKENDS=sqlite runs the database tests on SQLite alone (make test-quick)
BACKENDS = [b for b in os.environ.get("HELPDESK_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]


def _postgres_or_skip() -> str:
    if POSTGRES_URL:
        return POSTGRES_URL
    if IN_CI:
        pytest.fail("HELPDESK_TEST_POSTGRES_URL is not set; CI runs the database tests against PostgreSQL")
    pytest.skip("set HELPDESK_TEST_POSTGRES_URL to run the database tests against PostgreSQL")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run's last process (the only one, or xdist's controller) drops the run's PostgreSQL databases."""
    if POSTGRES_URL and not hasattr(session.config, "workerinput"):
        drop_run_databases(POSTGRES_URL)


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Databases:
    """Fresh databases, copied from templates built once per run (shared by xdist workers)."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    return Databases(tmp_path_factory.mktemp("db"), shared, _postgres_or_skip)


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
def backend(request: pytest.FixtureRequest) -> str:
    """Each database backend in turn."""
    return request.param


@pytest.fixture
def db_url(backend: str, databases: Databases) -> str:
    """A fresh, migrated database on each backend."""
    return databases.new(backend)


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
    from triage.ml.encoders import load_encoder
    from triage.ml.threads import pin_threads

    pin_threads(int(THREADS))
    return load_encoder("minilm", threads=int(THREADS))


def load_demo_data(session: Session) -> None:
    """The demo articles, fields, SLA policy and resolved tickets under ``data/`` (as ``helpdesk demo`` loads
    them)."""
    from kb.importer import import_folder
    from models.fields import save_fields
    from triage.desk.ticket_import import import_tickets
    from triage.sla.store import save_policy

    import_folder(session, DEMO / "kb")
    save_fields(session, json.loads((DEMO / "fields.json").read_text(encoding="utf-8")), "demo")
    save_policy(session, json.loads((DEMO / "sla" / "policy.json").read_text(encoding="utf-8")), "demo")
    for file in sorted((DEMO / "tickets").glob("*.jsonl")):
        import_tickets(session, file)


class DemoDeployments:
    """Copies of the demo deployment (see :mod:`tests.deployments`), built once per backend and run."""

    def __init__(self, databases: Databases, encoder, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.databases = databases
        self.encoder = encoder
        self.tmp_path_factory = tmp_path_factory

    def _snapshot(self, backend: str, stage: str) -> Snapshot:
        return demo_snapshots(self.databases, backend, self.encoder, load_demo_data)[stage]

    def copy(self, backend: str, stage: str = "active", root: Path | None = None) -> Settings:
        """Settings for a fresh copy of the demo deployment on ``backend`` at ``stage``: ``loaded`` (the demo
        articles and tickets, a warm embedding cache, no bundle), ``candidate`` (a bundle trained on them,
        not active) or ``active`` (that bundle active); artifacts under ``root``."""
        snapshot = self._snapshot(backend, stage)
        root = root or self.tmp_path_factory.mktemp(f"demo-{backend}-{stage}")
        artifacts = root / "artifacts"
        return make_settings(snapshot.clone(self.databases, artifacts), root)

    def warm_cache(self, backend: str, artifacts_dir: Path) -> None:
        """Give the artifacts folder ``artifacts_dir`` the demo texts' embeddings (work this run has done
        already), for tests of other things than embedding that read the demo data themselves."""
        snapshot = self._snapshot(backend, "loaded")
        shutil.copytree(snapshot.artifacts / "cache", artifacts_dir / "cache", dirs_exist_ok=True)


@pytest.fixture(scope="session")
def deployments(databases: Databases, encoder, tmp_path_factory: pytest.TempPathFactory) -> DemoDeployments:
    """Fresh copies of the demo deployment on either backend, at any stage."""
    return DemoDeployments(databases, encoder, tmp_path_factory)


@pytest.fixture(scope="session", params=BACKENDS)
def demo_settings(request: pytest.FixtureRequest, deployments: DemoDeployments) -> Settings:
    """A database on each backend with the demo articles and tickets loaded and a bundle trained (one copy
    shared by the tests that only add to it)."""
    return deployments.copy(request.param)


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
    from models.access import create_key

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


def _timed_out(excinfo: pytest.ExceptionInfo) -> bool:
    """Whether a test failed because a wait ran out (a socket, a subprocess, a page, pytest-timeout)."""
    error = excinfo.value
    return "timeout" in type(error).__name__.lower() or "Timeout" in str(error)[:300]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A test that failed on a deadline reports what every server it started was doing (their threads'
    stacks), so a hang names where it hangs."""
    report = yield
    if (
        report.failed
        and call.excinfo is not None
        and _timed_out(call.excinfo)
        and "the server's log" not in str(report.longrepr)  # the test reported the stacks itself
    ):
        for server in live_servers():
            report.sections.append((f"threads of server pid {server.pid}", server_stacks(server)))
    return report
