"""Expensive test state built once per test run and handed out as fresh copies.

- A migrated, empty database per backend is the template of every test database: a SQLite file is copied
  with SQLite's backup API, a PostgreSQL database is created with ``CREATE DATABASE ... TEMPLATE``.
- The demo deployment (demo articles and tickets loaded, a bundle trained on them, its embedding cache
  warm) is built once per backend and frozen at three stages: ``loaded`` (no bundle), ``candidate``
  (bundle registered, not active) and ``active``. A copy is a database copy plus a copy of the artifacts
  folder, with the registry's bundle paths pointed at the copy.

Under pytest-xdist every worker shares what is built: the first worker to need a template builds it under a
file lock in the run's shared temp folder; the others wait and copy it. All databases of a run carry the
run's prefix, and the run's last process drops them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from models.db import make_engine, make_session_factory, session_scope
from models.migrate import upgrade

__all__ = ("PREFIX", "STAGES", "Databases", "Snapshot", "built_once", "demo_snapshots", "drop_run_databases")

# one prefix per run: set when the first process imports this, inherited by the xdist workers it starts
RUN = os.environ.setdefault("HELPDESK_TEST_RUN", secrets.token_hex(4))
PREFIX = f"helpdesk_t_{RUN}_"
STAGES = ("loaded", "candidate", "active")


def built_once(shared: Path, name: str, build: Callable[[Path], dict]) -> dict:
    """``build(folder)`` once per test run, whichever process asks first (the others wait on a file lock);
    returns the JSON description ``build`` returned."""
    folder, done = shared / name, shared / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way starts again
            folder.mkdir(parents=True)
            done.write_text(json.dumps(build(folder)))
        return json.loads(done.read_text())


def _admin_engine(postgres_url: str) -> Engine:
    admin = make_url(postgres_url).set(drivername="postgresql+psycopg")
    return create_engine(admin, isolation_level="AUTOCOMMIT")


class Databases:
    """Fresh databases, each a copy of a template (``new``) or of any database made here (``copy``)."""

    def __init__(self, local: Path, shared: Path, postgres_url: Callable[[], str]) -> None:
        self.local = local
        self.shared = shared
        self._postgres_url = postgres_url

    def _create_postgres(self, name: str, template: str | None = None) -> str:
        engine = _admin_engine(self._postgres_url())
        try:
            with engine.connect() as conn:
                like = f' TEMPLATE "{template}"' if template else ""
                conn.execute(text(f'CREATE DATABASE "{name}"{like}'))
        finally:
            engine.dispose()
        return engine.url.set(database=name).render_as_string(hide_password=False)

    def copy(self, url: str) -> str:
        """A new database with the schema and rows of ``url`` (which nothing may be writing to)."""
        parsed = make_url(url)
        name = f"{PREFIX}{secrets.token_hex(4)}"
        if parsed.get_backend_name() != "sqlite":
            return self._create_postgres(name, template=parsed.database)
        target = self.local / f"{name}.db"
        source, copy = sqlite3.connect(parsed.database), sqlite3.connect(target)
        try:
            source.backup(copy)  # consistent even with a WAL file beside the source
        finally:
            source.close()
            copy.close()
        return f"sqlite:///{target}"

    def migrated(self, backend: str) -> str:
        """The run's migrated, empty template database on ``backend`` (built once)."""

        def build(folder: Path) -> dict:
            if backend == "sqlite":
                url = f"sqlite:///{folder / 'migrated.db'}"
            else:
                url = self._create_postgres(f"{PREFIX}migrated")
            upgrade(url)
            return {"url": url}

        return built_once(self.shared, f"migrated-{backend}", build)["url"]

    def new(self, backend: str) -> str:
        """A fresh, migrated database on ``backend``."""
        return self.copy(self.migrated(backend))


@dataclass(frozen=True)
class Snapshot:
    """A database and an artifacts folder frozen together at one stage of a deployment."""

    url: str
    artifacts: Path

    def clone(self, databases: Databases, artifacts: Path) -> str:
        """Copy the database and the artifacts folder (to ``artifacts``); returns the new database's URL,
        whose bundle rows point into the new folder."""
        url = databases.copy(self.url)
        shutil.copytree(self.artifacts, artifacts, dirs_exist_ok=True)
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE artifact_versions SET path = replace(path, :old, :new)"),
                    {"old": str(self.artifacts), "new": str(artifacts)},
                )
        finally:
            engine.dispose()
        return url


def demo_snapshots(databases: Databases, backend: str, encoder, load: Callable[[Session], None]) -> dict[str, Snapshot]:
    """The demo deployment on ``backend`` at each of :data:`STAGES` (built once per run): ``load`` fills the
    database, then a bundle is trained and registered, then activated, and the KB index built once (every
    stage's embedding cache holds the tickets' and the KB passages' vectors)."""
    from triage.bundles.registry import activate
    from triage.bundles.training import KIND, train_bundle
    from triage.knowledge.kb_index import load_knowledge
    from triage.ml.embedding_cache import EmbeddingCache

    def build(folder: Path) -> dict:
        artifacts, cache_only = folder / "artifacts", folder / "cache-only"
        url = databases.new(backend)
        engine = make_engine(url)
        with session_scope(make_session_factory(engine)) as session:
            load(session)
        engine.dispose()  # nothing may hold a connection to a database being copied
        loaded = databases.copy(url)
        with session_scope(make_session_factory(engine)) as session:
            version = train_bundle(session, encoder, artifacts, activate=False).version
        engine.dispose()
        candidate = databases.copy(url)
        with session_scope(make_session_factory(engine)) as session:
            activate(session, KIND, version)
            # the KB index too, so its passages' embeddings are cached: a copy's server starts without encoding
            load_knowledge(session, encoder, EmbeddingCache.in_artifacts(artifacts, encoder))
        engine.dispose()
        shutil.copytree(artifacts / "cache", cache_only / "cache")  # "loaded": no bundle, a warm embedding cache
        return {
            "loaded": [loaded, str(cache_only)],
            "candidate": [candidate, str(artifacts)],
            "active": [url, str(artifacts)],
        }

    built = built_once(databases.shared, f"demo-{backend}", build)
    return {stage: Snapshot(url, Path(artifacts)) for stage, (url, artifacts) in built.items()}


def drop_run_databases(postgres_url: str) -> None:
    """Drop every PostgreSQL database this run made (its templates and copies alike)."""
    engine = _admin_engine(postgres_url)
    try:
        with engine.connect() as conn:
            names = conn.scalars(text("SELECT datname FROM pg_database")).all()
            for name in (n for n in names if n.startswith(PREFIX)):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
