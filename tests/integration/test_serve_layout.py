"""`helpdesk serve` with several worker processes on one machine (SQLite): keep-alive responses are not held
back by Nagle's algorithm, a key's rate limit holds across the workers, and exactly one worker runs the
background work, another taking over when it dies."""

from __future__ import annotations

import http.client
import os
import re
import signal
import statistics
import time

import pytest

from tests.conftest import key_for
from tests.processes import live_servers, settings_env, start_server, stop_server
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # a real server with two worker processes

LEADER = re.compile(r"this worker \(pid (\d+)\) runs the background work")


@pytest.fixture(scope="module")
def two_workers(deployments, tmp_path_factory):
    settings = deployments.copy("sqlite", root=tmp_path_factory.mktemp("serve-layout"))
    env = settings_env(settings, HELPDESK_WORKERS="2", HELPDESK_RELOAD_POLL_SECONDS="0.5")
    server, port = start_server(env)
    yield settings, server, port
    stop_server(server)


def _log(server) -> str:
    return live_servers()[server].read_text()


def test_the_layout_is_logged_and_keep_alive_answers_are_not_delayed(two_workers):
    _, server, port = two_workers
    assert "helpdesk serve: 2 worker(s) x 1 thread(s): HELPDESK_WORKERS" in _log(server)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    seconds = []
    for _ in range(30):  # one keep-alive connection: without TCP_NODELAY each answer waits ~40 ms for an ACK
        start = time.perf_counter()
        connection.request("GET", "/health")
        assert connection.getresponse().read()
        seconds.append(time.perf_counter() - start)
    connection.close()
    assert statistics.median(seconds) < 0.02, seconds


def test_a_keys_limit_holds_across_the_workers(two_workers):
    settings, _, port = two_workers
    key = key_for(settings.database.url, "agent", rate_limit=12)
    answers = []
    for _ in range(16):  # a new connection each time: the kernel hands them to either worker
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/v1/whoami", headers={"authorization": f"Bearer {key}"})
        response = connection.getresponse()
        response.read()
        answers.append((response.status, response.getheader("ratelimit-remaining")))
        connection.close()
    assert [status for status, _ in answers] == [200] * 12 + [429] * 4
    assert [int(remaining) for _, remaining in answers[:12]] == list(range(11, -1, -1))


def test_one_worker_runs_the_background_work_and_another_takes_over_when_it_dies(two_workers):
    _, server, _ = two_workers
    leaders = LEADER.findall(_log(server))
    assert len(leaders) == 1, _log(server)[-3000:]
    os.kill(int(leaders[0]), signal.SIGKILL)
    # the other worker takes the lock at its next poll, or the worker started in the dead one's place does
    wait_for(lambda: len(LEADER.findall(_log(server))) == 2, "another worker to take over the background work", 60)
    assert len(set(LEADER.findall(_log(server)))) == 2
    assert server.poll() is None  # the server itself carried on
    time.sleep(1.5)  # three more polls: still one leader
    assert len(LEADER.findall(_log(server))) == 2
