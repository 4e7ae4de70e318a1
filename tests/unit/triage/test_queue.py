"""The job queue's settings: only on PostgreSQL, its connection string, periodic intervals as cron lines."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from models.errors import InvalidInput
from models.settings import Settings, WorkSettings
from triage.work.queue import conninfo, cron_every, queue_enabled


def test_the_queue_needs_postgresql_and_says_which_setting(tmp_path):
    sqlite = Settings.from_env({"HELPDESK_VAR_DIR": str(tmp_path)})
    assert not queue_enabled(sqlite)  # the embedded default
    with pytest.raises(InvalidInput) as refused:
        queue_enabled(replace(sqlite, work=WorkSettings(background="queue")))
    assert refused.value.field == "HELPDESK_BACKGROUND" and "PostgreSQL" in refused.value.detail
    postgres = Settings.from_env(
        {"HELPDESK_DATABASE_URL": "postgresql+psycopg://u:p@db:5432/helpdesk", "HELPDESK_BACKGROUND": "queue"}
    )
    assert queue_enabled(postgres)
    with pytest.raises(ValueError, match="HELPDESK_BACKGROUND"):
        Settings.from_env({"HELPDESK_BACKGROUND": "celery"})


def test_connection_string_and_cron_lines():
    assert conninfo("postgresql+psycopg://u:p%40ss@db:5432/helpdesk?sslmode=require") == (
        "postgresql://u:p%40ss@db:5432/helpdesk?sslmode=require"
    )
    assert cron_every(1) == "* * * * * */1"
    assert cron_every(10) == "* * * * * */10"
    assert cron_every(60) == "*/1 * * * *"
    assert cron_every(300) == "*/5 * * * *"
    assert cron_every(7200) == "0 */2 * * *"


def test_the_procfile_runs_commands_that_exist():
    from pathlib import Path

    from triage.cli import main

    procfile = (Path(__file__).resolve().parents[3] / "Procfile").read_text().splitlines()
    processes = dict(line.split(": ", 1) for line in procfile if line.strip())
    assert set(processes) == {"release", "web", "worker"}
    for command in processes.values():
        program, name, *_ = command.split()
        assert program == "helpdesk" and name in main.commands, command


def test_a_job_that_fails_unexpectedly_is_retried_by_the_queue_until_it_succeeds(sessions, monkeypatch):
    from procrastinate.testing import InMemoryConnector

    from models.db import session_scope
    from triage.bundles.jobs import get_job, start_job
    from triage.work import jobs
    from triage.work.queue import JOB_TASK
    from triage.work.serving import Serving
    from triage.work.worker import build_queue

    calls = []

    def flaky(serving, params, actor, progress):  # a job kind whose first run meets a passing fault
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the artifacts share went away for a moment")
        return {"runs": len(calls)}

    monkeypatch.setitem(jobs.KINDS, "flaky", flaky)
    settings = Settings.from_env({"HELPDESK_DATABASE_URL": "postgresql://unused/db"})
    settings = replace(settings, work=WorkSettings(background="queue", job_attempts=3, retry_wait_seconds=0.2))
    serving = Serving(settings, sessions)
    with session_scope(sessions) as session:
        job_id = start_job(session, "flaky", {}, runner="queue").id
    with build_queue(settings, []).replace_connector(InMemoryConnector()) as app:
        app.configure_task(JOB_TASK).defer(job_id=job_id, kind="flaky", actor=None)
        states = []
        for _ in range(20):  # each run takes what is due, then stops; the retry is due after its back-off
            app.run_worker(
                queues=["jobs"], wait=False, install_signal_handlers=False, additional_context={"serving": serving}
            )
            with session_scope(sessions) as session:
                job = get_job(session, job_id)
                states.append(job.state)
                if job.state == "succeeded":
                    break
            time.sleep(0.1)
    assert states[0] == "queued" and states[-1] == "succeeded"  # back to queued after the fault, then done
    assert job.result == {"runs": 2} and job.attempts == 2 and job.error is None


@pytest.mark.slow  # CLI processes
@pytest.mark.parametrize("command", ["worker", "serve"])
def test_the_queue_on_sqlite_stops_worker_and_serve_with_one_line_naming_the_setting(command, tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "HELPDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'helpdesk.db'}",
        "HELPDESK_BACKGROUND": "queue",
    }
    result = subprocess.run(
        [sys.executable, "-m", "triage.cli", command], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error [HELPDESK_BACKGROUND]:") and "PostgreSQL" in result.stderr
