"""A real django-helpdesk for tests: a minimal Django project in a temporary folder, served by Django's
``runserver`` on a free port, with its REST API (HTTP Basic as an admin) and its webhooks pointed where the
test says.

Migrating takes seconds, so a template database (migrated, an admin, four queues, the custom fields
``category`` and ``kind``) is built once per run (:func:`tests.deployments.built_once`, shared by xdist
workers) and every server starts on a copy of it. Passwords use Django's MD5 hasher unless
``real_hashing``: with the default PBKDF2 every Basic-authenticated request spends about a quarter of a
second hashing (measured: 0.29 s a request against 0.05 s)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.deployments import built_once
from triage.evaluation.bench import free_port

__all__ = ("CATEGORIES", "QUEUES", "DjangoHelpdesk", "helpdesk_template", "shared_folder", "start_django_helpdesk")

IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT = 30.0
USER, PASSWORD = "admin", "admin-secret-1"
QUEUES = ("Service Desk", "Network", "Hardware", "Access")
CATEGORIES = ("Accounts & Passwords", "Email & Calendar", "Hardware", "Network & VPN", "Printing", "Other")
_GROUP = {"start_new_session": True}  # its own process group, stopped as one
MOUNT = "helpdesk"  # where the project mounts helpdesk.urls, as its docs do: the API is under /helpdesk/api/

_SETTINGS = """\
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SECRET_KEY, DEBUG, ALLOWED_HOSTS = "django-helpdesk-test-only", False, ["*"]
INSTALLED_APPS = [f"django.contrib.{app}" for app in (
    "admin", "auth", "contenttypes", "sessions", "messages", "staticfiles", "sites", "humanize")]
INSTALLED_APPS += ["rest_framework", "helpdesk"]
MIDDLEWARE = [f"django.{m}Middleware" for m in (
    "contrib.sessions.middleware.Session", "middleware.common.Common", "middleware.csrf.CsrfView",
    "contrib.auth.middleware.Authentication", "contrib.messages.middleware.Message")]
ROOT_URLCONF = "desk_urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["DESK_DATABASE"]}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
USE_TZ, TIME_ZONE, SITE_ID, STATIC_URL, MEDIA_ROOT = True, "UTC", 1, "/static/", str(ROOT / "media")
EMAIL_BACKEND, EMAIL_FILE_PATH = "django.core.mail.backends.filebased.EmailBackend", str(ROOT / "mail")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
if os.environ.get("DESK_REAL_HASHING"):
    PASSWORD_HASHERS.insert(0, "django.contrib.auth.hashers.PBKDF2PasswordHasher")
HELPDESK_TEAMS_MODE_ENABLED = False  # else it needs pinax-teams
LOGGING = {"version": 1, "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
                "helpdesk": {"handlers": ["console"], "level": "INFO"}}}
"""
_URLS = f"""\
from django.urls import include, path

urlpatterns = [path("{MOUNT}/", include("helpdesk.urls", namespace="helpdesk"))]
"""
_SETUP = """\
import json, sys, time
import django

django.setup()
from django.contrib.auth import get_user_model
from django.core.management import call_command
from helpdesk.models import CustomField, Queue

spec, start = json.loads(sys.argv[1]), time.perf_counter()
call_command("migrate", verbosity=0, interactive=False)
migrate_s = time.perf_counter() - start
get_user_model().objects.create_superuser(spec["user"], spec["user"] + "@example.org", spec["password"])
queues = {t: Queue.objects.create(title=t, slug=t.lower().replace(" ", "-")).id for t in spec["queues"]}
CustomField.objects.create(name="category", label="Category", data_type="list", staff_only=True,
    list_values="\\n".join(spec["categories"]), empty_selection_list=True)
CustomField.objects.create(name="kind", label="Kind", data_type="varchar", max_length=40, staff_only=True)
print(json.dumps({"queues": queues, "migrate_s": migrate_s}))
"""


def _require_helpdesk() -> None:
    if importlib.util.find_spec("helpdesk") is None:
        message = "django-helpdesk is not installed (pip install 'django-helpdesk>=2.6,<3'): the connector tests"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _write_project(folder: Path) -> Path:
    project = folder / "project"
    project.mkdir(parents=True, exist_ok=True)
    (project / "desk_settings.py").write_text(_SETTINGS)
    (project / "desk_urls.py").write_text(_URLS)
    return project


def _environment(project: Path, database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "DJANGO_"))}
    env.update(PYTHONPATH=str(project), DJANGO_SETTINGS_MODULE="desk_settings", DESK_DATABASE=str(database))
    env.update(PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's folder for what is built once (under xdist, the one all workers share)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def helpdesk_template(shared: Path) -> dict[str, Any]:
    """The template database, built once per run in ``shared``: ``{"database": path, "queues": {title: id},
    "migrate_s": seconds, "build_s": seconds}``."""
    _require_helpdesk()

    def build(folder: Path) -> dict[str, Any]:
        start = time.perf_counter()
        database = folder / "helpdesk.sqlite3"
        spec = {"user": USER, "password": PASSWORD, "queues": QUEUES, "categories": CATEGORIES}
        env, command = _environment(_write_project(folder), database), [sys.executable, "-c", _SETUP, json.dumps(spec)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"migrating django-helpdesk failed ({done.returncode}):\n{done.stderr[-4000:]}")
        built = json.loads(done.stdout.strip().splitlines()[-1])
        return {**built, "database": str(database), "build_s": time.perf_counter() - start}

    return built_once(shared, "django-helpdesk-template", build)


class DjangoHelpdesk:
    """A running django-helpdesk; a context manager that stops it on exit. ``base_url`` is what a connector
    is configured with (the API is ``base_url + "/api/"``); ``client`` calls the API as the admin."""

    user, password = USER, PASSWORD

    def __init__(self, process: subprocess.Popen, port: int, root: Path, queues: dict[str, int]) -> None:
        self.process, self.port, self.root, self.queues = process, port, root, queues
        self.base_url = f"http://127.0.0.1:{port}/{MOUNT}"
        self.log = root / "server.log"
        self.client = httpx.Client(base_url=self.base_url + "/api/", auth=(USER, PASSWORD), timeout=30, trust_env=False)
        self.started_s = 0.0

    def __enter__(self) -> DjangoHelpdesk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if not response.is_success:
            raise AssertionError(f"{method} {path}: HTTP {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None

    def create_ticket(self, title: str, description: str, queue_id: int, priority: int = 3, **extra: Any) -> dict:
        """A new ticket through the API (``POST /api/tickets/``); ``extra``: ``submitter_email`` (by default
        requester@example.org), ``custom_category`` ..."""
        body = {"title": title, "description": description, "queue": queue_id, "priority": priority}
        return self._call("POST", "tickets/", json={**body, "submitter_email": "requester@example.org", **extra})

    def add_followup(
        self, ticket_id: int, comment: str, public: bool = False, new_status: int | None = None
    ) -> dict[str, Any]:
        """A follow-up through the API (``POST /api/followups/``); the API records the caller as its user."""
        body: dict[str, Any] = {"ticket": ticket_id, "comment": comment, "public": public}
        if new_status is not None:
            body["new_status"] = new_status
        return self._call("POST", "followups/", json=body)

    def get_ticket(self, ticket_id: int) -> dict[str, Any]:
        """The ticket as the API gives it, with its ``followup_set``."""
        return self._call("GET", f"tickets/{ticket_id}/")

    def resolve(self, ticket_id: int, comment: str, public: bool = True) -> dict[str, Any]:
        """Resolve the ticket as an agent does: a follow-up with ``new_status`` 3 (its comment becomes the
        ticket's resolution)."""
        return self.add_followup(ticket_id, comment, public=public, new_status=3)

    def delete_ticket(self, ticket_id: int) -> None:
        self._call("DELETE", f"tickets/{ticket_id}/")

    def sent_mail(self) -> list[str]:
        """The e-mails the helpdesk has sent (Django's file backend), oldest first."""
        folder = self.root / "project" / "mail"
        files = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
        return [p.read_text(errors="replace") for p in files]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else "(no log)"

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL 10 s later if it still runs."""
        self.client.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


def _ready(server: DjangoHelpdesk, deadline: float) -> None:
    """Wait until an authenticated API read answers 200; raise with the log's end if the server exits, answers
    anything else, or the deadline passes."""
    error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"django-helpdesk exited ({server.process.returncode}); its log:\n{server.log_tail()}")
        try:
            response = server.client.get("tickets/", params={"page_size": 1}, timeout=5)
        except httpx.TransportError as caught:
            error = caught
            time.sleep(0.05)
            continue
        if response.status_code == 200:
            return
        raise RuntimeError(f"django-helpdesk answered HTTP {response.status_code}: {response.text[:300]}")
    raise RuntimeError(f"django-helpdesk did not answer within {START_TIMEOUT:.0f} s ({error!r}):\n{server.log_tail()}")


def start_django_helpdesk(
    tmp_path: Path,
    *,
    shared: Path | None = None,
    new_ticket_webhooks: Sequence[str] = (),
    followup_webhooks: Sequence[str] = (),
    real_hashing: bool = False,
) -> DjangoHelpdesk:
    """Start django-helpdesk on a copy of the template database (built in ``shared``, default ``tmp_path``, if
    this run has not yet); returns once its API answers. It POSTs its webhooks to the given URLs.

    Skips the test when django-helpdesk is not installed (fails it under ``CI=true``)."""
    template = helpdesk_template(shared or tmp_path)
    root = Path(tempfile.mkdtemp(prefix="django-helpdesk-", dir=tmp_path))
    project = _write_project(root)
    database = root / "helpdesk.sqlite3"
    shutil.copyfile(template["database"], database)
    # it splits the follow-up URLs on a comma between white space, the new-ticket ones on a comma
    hooks = {"NEW_TICKET": ",".join(new_ticket_webhooks), "FOLLOWUP": " , ".join(followup_webhooks)}
    extra = {f"HELPDESK_{name}_WEBHOOK_URLS": urls for name, urls in hooks.items() if urls}
    env = _environment(project, database, **extra, **({"DESK_REAL_HASHING": "1"} if real_hashing else {}))
    for attempt in range(3):  # another process may take the free port before the server binds it
        port, start = free_port(), time.perf_counter()
        with open(root / "server.log", "ab") as out:
            command = [sys.executable, "-m", "django", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"]
            process = subprocess.Popen(command, cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, **_GROUP)
        server = DjangoHelpdesk(process, port, root, dict(template["queues"]))
        try:
            _ready(server, time.monotonic() + START_TIMEOUT)
            server.started_s = time.perf_counter() - start
            return server
        except RuntimeError:
            server.stop()
            if attempt == 2 or "already in use" not in server.log_tail():
                raise
    raise AssertionError("unreachable")


def main() -> None:
    """``python -m tests.djangohelpdesk [--real-hashing]``: a django-helpdesk to try the connector with or run
    benchmarks against; prints its URL and credentials and runs until Ctrl-C. Its webhooks go to the URLs in
    ``DESK_NEW_TICKET_WEBHOOK_URLS`` and ``DESK_FOLLOWUP_WEBHOOK_URLS`` (comma separated), if set."""
    new, followup = (
        [u for u in os.environ.get(f"DESK_{n}_WEBHOOK_URLS", "").split(",") if u] for n in ("NEW_TICKET", "FOLLOWUP")
    )
    with tempfile.TemporaryDirectory(prefix="django-helpdesk-") as folder:
        real = "--real-hashing" in sys.argv[1:]
        server = start_django_helpdesk(
            Path(folder), new_ticket_webhooks=new, followup_webhooks=followup, real_hashing=real
        )
        credentials = f"user {server.user} password {server.password}, queues {server.queues}"
        print(f"django-helpdesk at {server.base_url} (API under /api/), {credentials}; log {server.log}", flush=True)
        try:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            server.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
