"""Background jobs: one live job per kind, progress and results recorded, dead jobs noticed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from models import Job
from models.base import utcnow
from models.db import session_scope
from triage.bundles.jobs import JobHeld, claim_job, get_job, run_job, start_job
from triage.errors import InvalidQuery, JobConflict, JobNotFound


def test_one_live_job_per_kind_and_results_are_recorded(sessions):
    with session_scope(sessions) as session:
        job_id = start_job(session, "train", {"promote": False}).id
    with session_scope(sessions) as session, pytest.raises(JobConflict):
        start_job(session, "train", {})
    with session_scope(sessions) as session:
        start_job(session, "other", {})  # another kind may run beside it

    def work(progress):
        progress("tickets", 5, 10)
        progress("tickets", 10, 10)
        return {"version": "v1"}

    run_job(sessions, job_id, work, heartbeat_seconds=0.05)
    with session_scope(sessions) as session:
        job = get_job(session, job_id)
        assert (job.state, job.result, job.error) == ("succeeded", {"version": "v1"}, None)
        assert job.progress == {"step": "tickets", "done": 10, "total": 10} and job.finished_at
        again = start_job(session, "train", {}).id  # the first one ended

    def fail(progress):
        raise InvalidQuery("no resolved tickets in that window", field="since")

    run_job(sessions, again, fail)
    with session_scope(sessions) as session:
        assert (get_job(session, again).state, get_job(session, again).error) == (
            "failed",
            "no resolved tickets in that window",
        )
        with pytest.raises(JobNotFound):
            get_job(session, "nope")


def test_a_job_without_heartbeat_is_failed_and_frees_its_kind(sessions):
    with session_scope(sessions) as session:
        job_id = start_job(session, "train", {}).id
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(minutes=10)
    with session_scope(sessions) as session:
        job = get_job(session, job_id)
        assert job.state == "failed" and "stopped" in job.error
        assert start_job(session, "train", {}).id != job_id


def test_the_database_allows_one_live_job_per_kind(sessions):
    with pytest.raises(IntegrityError), session_scope(sessions) as session:
        for n in range(2):
            session.add(Job(id=f"job{n}", kind="train", state="running", params={}, progress={}))
            session.flush()


def test_a_queued_job_is_claimed_by_one_run_at_a_time_and_never_run_again_once_it_ended(sessions):
    with session_scope(sessions) as session:
        job_id = start_job(session, "train", {}, runner="queue").id
    claimed = claim_job(sessions, job_id, stale_after=30)
    assert claimed.state == "running" and claimed.attempts == 1
    with pytest.raises(JobHeld):  # its run is alive: a second run must not start
        claim_job(sessions, job_id, stale_after=30)
    with session_scope(sessions) as session:  # a queue job is never failed for silence: the queue re-runs it
        session.get(Job, job_id).heartbeat_at = utcnow() - timedelta(minutes=10)
    with session_scope(sessions) as session:
        assert get_job(session, job_id).state == "running"
    assert claim_job(sessions, job_id, stale_after=30).attempts == 2  # its run died: this one takes over

    def boom(progress):
        raise RuntimeError("the disk filled up")

    with pytest.raises(RuntimeError):  # raised again for the queue to retry, the job back to queued
        run_job(sessions, job_id, boom, retry=True, claimed=True)
    with session_scope(sessions) as session:
        job = get_job(session, job_id)
        assert job.state == "queued" and "disk filled up" in job.error and "retried" in job.error
    claim_job(sessions, job_id, stale_after=30)
    run_job(sessions, job_id, lambda progress: {"ok": True}, claimed=True)
    assert claim_job(sessions, job_id, stale_after=30) is None  # it ended: a late re-run does nothing
    with session_scope(sessions) as session:
        job = get_job(session, job_id)
        assert (job.state, job.result, job.error, job.attempts) == ("succeeded", {"ok": True}, None, 3)
