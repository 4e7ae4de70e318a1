"""The job queue's settings: only on PostgreSQL, its connection string, periodic intervals as cron lines."""

from __future__ import annotations

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
