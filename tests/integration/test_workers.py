"""Past one machine, with real processes on one PostgreSQL: API processes and ``helpdesk worker`` processes
on the job queue (``HELPDESK_BACKGROUND=queue``). Load on two API processes while a worker retrains and the
bundle is promoted; a worker killed (-9) during training and during a webhook delivery, whose work another
worker finishes; a key's rate limit counted across two API processes; periodic checks run once per tick
across workers; and replicas starting while a bundle is written never load a partial one."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from models import Job, OutboxEvent, WebhookDelivery
from models.db import make_engine, make_session_factory, session_scope
from models.settings import WorkSettings
from tests.conftest import BACKENDS, key_for
from tests.processes import FAST_WEBHOOKS, ROOT, launch, settings_env, start_server, start_worker, stop_server
from tests.receiver import Receiver
from tests.waiting import wait_for
from triage.work.jobs import start_training
from triage.work.serving import Serving

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

SUBJECTS = ["I forgot my VPN password", "Printer jammed on floor 2", "Invoice for my order", "Outlook will not sync"]
STARTED = re.compile(r"Starting job (helpdesk\.\w+)\[(\d+)\]\((?:timestamp=(\d+))?")


def _env(settings, **extra: str) -> dict[str, str]:
    return settings_env(
        settings,
        HELPDESK_BACKGROUND="queue",
        HELPDESK_RELOAD_POLL_SECONDS="0.3",
        HELPDESK_WORKER_STALLED_SECONDS="3",
        HELPDESK_JOB_RETRY_WAIT_SECONDS="1.5",
        HELPDESK_THREADS="1",
        **FAST_WEBHOOKS,
        **extra,
    )


def _postgres_copy(deployments, root: Path):
    """A fresh copy of the demo deployment (an active bundle) on PostgreSQL, and an admin key."""
    if "postgresql" not in BACKENDS:
        pytest.skip("the job queue runs on PostgreSQL (HELPDESK_TEST_BACKENDS leaves it out)")
    settings = deployments.copy("postgresql", root=root)
    return settings, key_for(settings.database.url)


@pytest.fixture
def deployment(deployments, tmp_path):
    return _postgres_copy(deployments, tmp_path)


def _start_all(env: dict[str, str], folder: Path, workers: int, servers: int):
    """``workers`` workers and ``servers`` API processes, started side by side: (workers, [(server, port)])."""
    with ThreadPoolExecutor(workers + servers) as pool:
        started_workers = [pool.submit(start_worker, env, folder / f"worker-{n}.log") for n in range(workers)]
        started_servers = [pool.submit(start_server, env, folder / f"api-{n}.log") for n in range(servers)]
        return [w.result() for w in started_workers], [s.result() for s in started_servers]


@dataclass
class Cluster:
    """Two API processes and two workers on one PostgreSQL copy, reading a real mailbox."""

    settings: object
    key: str
    env: dict[str, str]
    imap: object
    folder: Path
    workers: list[subprocess.Popen]
    servers: list[tuple[subprocess.Popen, int]]

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"


@pytest.fixture(scope="module")
def cluster(deployments, tmp_path_factory) -> Iterator[Cluster]:
    """Shared by the tests of this module, which run in file order: the load test promotes a bundle, which
    the others do not depend on; the rate limit and the mailbox; then a worker killed during training and
    the other killed mid-send (a new one takes over)."""
    from tests.mailserver import start_imap_server

    folder = tmp_path_factory.mktemp("cluster")
    settings, key = _postgres_copy(deployments, folder)
    with start_imap_server(folder) as imap:
        mailbox = {"HOST": imap.host, "PORT": str(imap.port), "SECURITY": "none", "USER": imap.user}
        mailbox |= {"PASSWORD": imap.password, "FOLDER": "Queue", "POLL_SECONDS": "1", "PROCESSED_FOLDER": "Done"}
        with imap.mailbox() as box:
            box.folder.create("Queue")
        env = _env(
            settings,
            HELPDESK_SLA_POLL_SECONDS="1",
            HELPDESK_INCIDENT_POLL_SECONDS="2",
            HELPDESK_WEBHOOK_TIMEOUT_SECONDS="20",  # a send that hangs is still in flight when its worker is killed
            **{f"HELPDESK_MAIL_{name}": value for name, value in mailbox.items()},
        )
        workers, servers = _start_all(env, folder, 2, 2)
        try:
            yield Cluster(settings, key, env, imap, folder, workers, servers)
        finally:
            for process, _ in servers:
                _stop(process)
            for process in workers:
                _stop(process)


_wait = partial(wait_for, timeout=120)


def _job(settings, job_id: str) -> Job:
    engine = make_engine(settings.database.url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            job = session.get(Job, job_id)
            session.expunge(job)
            return job
    finally:
        engine.dispose()


def _started(log: Path, task: str) -> list[str]:
    """The queue's job ids of ``task`` this worker started (its log's "Starting job" lines)."""
    return [job_id for name, job_id, _ in STARTED.findall(log.read_text()) if name == task]


def _ticks(log: Path, task: str) -> list[int]:
    """The ticks (periodic jobs' timestamps) of ``task`` this worker ran."""
    return [int(tick) for name, _, tick in STARTED.findall(log.read_text()) if name == task]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        stop_server(process, grace=60)


def test_two_api_processes_serve_without_an_error_through_a_retrain_and_promotion_on_a_worker(cluster):
    key, servers = cluster.key, cluster.servers
    old = httpx.get(f"http://127.0.0.1:{servers[0][1]}/ready").json()["bundle_version"]
    answers: Counter[tuple[int, int | str]] = Counter()  # (port, status or error)
    versions: dict[int, list[str]] = {port: [] for _, port in servers}
    mixed: list[dict] = []
    stop = threading.Event()

    def client(n: int) -> None:
        port = servers[n % 2][1]
        headers = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as api:
            while not stop.is_set():
                try:
                    answer = api.post("/v1/suggest", json={"subject": SUBJECTS[n % 4], "body": "since this morning"})
                except httpx.HTTPError as error:  # counted as an error, never lost with the thread
                    answers[(port, type(error).__name__)] += 1
                    continue
                answers[(port, answer.status_code)] += 1
                if answer.status_code == 200:
                    body = answer.json()
                    named = {body["bundle_version"]} | {p["bundle_version"] for p in body["predictions"].values()}
                    if len(named) != 1:
                        mixed.append(body)
                    versions[port].append(body["bundle_version"])

    clients = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    began = time.monotonic()
    for thread in clients:
        thread.start()
    try:
        time.sleep(2)
        headers = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{servers[0][1]}", headers=headers) as api:
            started = api.post("/v1/models/train", json={"promote": True, "force": True})
            assert started.status_code == 202, started.text
            job_id = started.json()["id"]
            done = _wait(
                lambda: (state := api.get(f"/v1/jobs/{job_id}").json())["state"] in ("succeeded", "failed") and state,
                "the training job",
                timeout=400,
            )
        assert done["state"] == "succeeded" and done["result"]["promoted"], done
        new = done["result"]["version"]
        _wait(lambda: all(v and v[-1] == new for v in versions.values()), "both API processes serving the new bundle")
        time.sleep(max(0.0, 30 - (time.monotonic() - began)))  # 30 s of load at the least
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=120)
    assert {status for _, status in answers} == {200}, answers
    assert not mixed
    for port, seen in versions.items():
        assert seen[-1] == new and set(seen) <= {old, new}, (port, Counter(seen))
        # once a process serves the new bundle it never answers with the old one again
        assert old not in seen[seen.index(new) :]
    ran = [_started(cluster.log(f"worker-{n}"), "helpdesk.job") for n in range(2)]
    assert len(ran[0] + ran[1]) == 1  # the job ran once, on one worker
    # the SLA check ticks every second: each tick ran once across both workers, never twice
    ticks = [_ticks(cluster.log(f"worker-{n}"), "helpdesk.sla") for n in range(2)]
    assert len(ticks[0] + ticks[1]) == len(set(ticks[0] + ticks[1])) >= 20, ticks


def test_a_key_limited_to_60_requests_a_minute_is_limited_across_two_api_processes(cluster):
    key = key_for(cluster.settings.database.url, "agent", rate_limit=60)
    statuses, remaining = [], []
    for n in range(61):
        port = cluster.servers[n % 2][1]
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/whoami", headers={"authorization": f"Bearer {key}"})
        statuses.append(answer.status_code)
        remaining.append(int(answer.headers["RateLimit-Remaining"]))
    assert statuses == [200] * 60 + [429]
    assert remaining[:60] == list(range(59, -1, -1)) and remaining[60] == 0


def test_the_workers_read_the_mailbox_once_per_tick_into_one_ticket_per_mail(cluster):
    from tests.integration.test_mail import compose

    imap, port = cluster.imap, cluster.servers[0][1]
    subjects = [f"Badge {n} does not open the garage" for n in range(3)]
    for subject in subjects:
        imap.append(compose("lotte@example.nl", subject, "Since Monday."), "Queue")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"authorization": f"Bearer {cluster.key}"}) as api:

        def filed() -> list[dict]:
            items = api.get("/v1/tickets", params={"limit": 100}).json()["items"]
            return [t for t in items if t["subject"].startswith("Badge")]

        tickets = _wait(lambda: len(filed()) >= 3 and filed(), "tickets from the three mails", timeout=60)
        time.sleep(2)  # two more ticks: nothing is filed twice
        assert sorted(t["subject"] for t in filed()) == subjects
        assert all(api.get(f"/v1/tickets/{t['id']}").json()["channel"] == "email" for t in tickets)
    assert len(imap.uids("Done")) == 3 and not imap.uids("Queue")
    ticks = [_ticks(cluster.log(f"worker-{n}"), "helpdesk.mail") for n in range(2)]
    assert len(ticks[0] + ticks[1]) == len(set(ticks[0] + ticks[1])) > 0
    for n in range(2):  # on the queue the API processes leave the mailbox to the workers
        assert "polling mailbox" not in cluster.log(f"api-{n}").read_text()


def test_a_worker_killed_during_training_leaves_the_job_to_the_other_which_finishes_it(cluster):
    """After the tests above: they need both workers; this one kills one of them."""
    settings, logs = cluster.settings, [cluster.log(f"worker-{n}") for n in range(2)]
    before = [set(_started(log, "helpdesk.job")) for log in logs]
    queued = replace(settings, work=WorkSettings(background="queue"))
    engine = make_engine(settings.database.url)
    try:
        job_id = start_training(Serving(queued, make_session_factory(engine)), promote=False)
        job = _wait(lambda: (j := _job(settings, job_id)).progress.get("step") and j, "training under way")
        assert job.state == "running" and job.runner == "queue"
        taken = [n for n, log in enumerate(logs) if set(_started(log, "helpdesk.job")) - before[n]]
        assert len(taken) == 1
        cluster.workers[taken[0]].send_signal(signal.SIGKILL)
        cluster.workers[taken[0]].wait(timeout=30)
        done = _wait(
            lambda: (j := _job(settings, job_id)).state in ("succeeded", "failed") and j, "the job", timeout=400
        )
        assert done.state == "succeeded", done.error
        assert done.attempts == 2 and done.result["version"]
        other = 1 - taken[0]
        assert set(_started(logs[other], "helpdesk.job")) - before[other]  # the other worker finished it
    finally:
        engine.dispose()


def test_a_worker_killed_mid_delivery_leaves_it_to_another_which_sends_it_under_the_same_id(cluster):
    """Last: it kills the cluster's remaining worker mid-send and starts another."""
    (first,) = [w for w in cluster.workers if w.poll() is None]
    receiver = Receiver(delay=30).start()  # the first send hangs
    port = cluster.servers[0][1]
    try:
        headers = {"authorization": f"Bearer {cluster.key}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as api:
            hook = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["ticket.created"]})
            assert hook.status_code == 201, hook.text
            receiver.secret, hook_id = hook.json()["secret"], hook.json()["id"]
            created = api.post("/v1/tickets", json={"subject": "VPN drops every hour", "body": "since Monday"})
            assert created.status_code == 201, created.text
        _wait(lambda: receiver.requests >= 1, "the first worker's send")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        receiver.delay = 0
        cluster.workers.append(start_worker(cluster.env, cluster.log("worker-2")))
        got = receiver.wait_for(1, timeout=60)
    finally:
        receiver.stop()
    engine = make_engine(cluster.settings.database.url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            delivery = session.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == hook_id)).one()
            assert delivery.state == "delivered" and delivery.attempts == 1  # the killed try recorded nothing
            event = session.get(OutboxEvent, delivery.event_id)
            assert event.type == "ticket.created" and event.payload["ticket"]["id"] == created.json()["id"]
    finally:
        engine.dispose()
    sent_ids = {headers.get("webhook-id") for _, headers in receiver.raw}
    assert sent_ids == {event.event_id} and [r.webhook_id for r in got] == [event.event_id]


LOADER = """
import sys
from pathlib import Path
from sqlalchemy import select
from models import ArtifactVersion
from models.db import make_engine, make_session_factory, session_scope
from triage.ml.bundle import verify_bundle
engine = make_engine(sys.argv[1])
with session_scope(make_session_factory(engine)) as session:
    rows = session.scalars(select(ArtifactVersion)).all()
    for row in rows:
        verify_bundle(row.folder(Path(sys.argv[2])))
print(len(rows))
"""


def test_replicas_starting_while_a_bundle_is_written_load_only_whole_bundles(deployment):
    settings, _ = deployment
    training = launch(settings, "train")
    counts = []
    try:
        while training.poll() is None:
            loaded = subprocess.run(
                [sys.executable, "-c", LOADER, settings.database.url, str(settings.models.artifacts_dir)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert loaded.returncode == 0, loaded.stderr[-3000:]
            counts.append(int(loaded.stdout))
    finally:
        out, err = training.communicate(timeout=400)
    assert training.returncode == 0, err[-2000:]
    assert len(counts) >= 2 and counts[0] == 1  # replicas started while the second bundle was being written
    engine = make_engine(settings.database.url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM artifact_versions")).scalar() == 2
    finally:
        engine.dispose()
