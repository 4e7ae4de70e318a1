"""Outbound webhooks with real processes: ``helpdesk serve`` killed (-9) while a delivery hangs, then
restarted on the same database, delivers every event, in order per ticket and under its one id; a
receiver that was down gets everything once it is back; and ``helpdesk webhooks`` manages subscriptions,
sends a test event, delivers, redelivers and refuses a bad URL in one line."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import httpx
import pytest
from sqlalchemy import select

from models import OutboxEvent, WebhookDelivery
from models.audit import AuditEvent
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, key_for
from tests.processes import FAST_WEBHOOKS, finish, helpdesk, launch, settings_env, start_server, stop_server
from tests.receiver import Receiver
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # real servers, a killed one, and CLI commands

TICKET_EVENTS = ["ticket.created", "ticket.updated"]
PER_TICKET = ["ticket.created", "ticket.updated", "ticket.updated"]


def _env(settings, **extra: str) -> dict[str, str]:
    return settings_env(settings, **FAST_WEBHOOKS, **extra)


@pytest.fixture(scope="module", params=BACKENDS)
def deployment(request, deployments, tmp_path_factory):
    """A copy of the demo deployment per backend with an admin key (each test subscribes its own receiver
    and removes it at the end)."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"webhooks-{request.param}"))
    return settings, key_for(settings.database.url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


@contextmanager
def _api(port: int, key: str) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {key}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
        yield client


@contextmanager
def _session(settings):
    engine = make_engine(settings.database.url)
    try:
        with session_scope(make_session_factory(engine)) as session:
            yield session
    finally:
        engine.dispose()


_wait = partial(wait_for, timeout=60, step=0.05)


def _subscribe(api: httpx.Client, receiver: Receiver, events: list[str]) -> int:
    answer = api.post("/v1/webhooks", json={"url": receiver.url, "events": events})
    assert answer.status_code == 201, answer.text
    receiver.secret = answer.json()["secret"]
    return answer.json()["id"]


def _tickets(api: httpx.Client, count: int, topic: str) -> list[int]:
    """``count`` tickets, each created and then updated twice (priority low, then high)."""
    ids = []
    for n in range(count):
        created = api.post("/v1/tickets", json={"subject": f"{topic} {n}", "body": "since this morning"})
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
        for priority in ("low", "high"):
            assert api.patch(f"/v1/tickets/{ids[-1]}", json={"priority": priority}).status_code == 200
    return ids


def _outbox(settings, hook: int) -> dict[str, OutboxEvent]:
    """The events queued for subscription ``hook``, by their webhook-id."""
    with _session(settings) as session:
        query = select(OutboxEvent).join(WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id)
        rows = session.scalars(query.where(WebhookDelivery.subscription_id == hook)).all()
        session.expunge_all()
        return {row.event_id: row for row in rows}


def _states(settings, hook: int) -> list[str]:
    with _session(settings) as session:
        query = select(WebhookDelivery.state).where(WebhookDelivery.subscription_id == hook)
        return list(session.scalars(query))


def _check_received(receiver: Receiver, events: dict[str, OutboxEvent], ids: list[int]) -> None:
    """Every event arrived (verified), under its one id, with the same body every time, in order per
    ticket."""
    got = list(receiver.received)
    assert {r.webhook_id for r in got} == set(events), receiver.dump()
    assert not receiver.rejected
    for r in got:  # a repeat carries the id and body of the first
        assert r.data == events[r.webhook_id].payload and r.type == events[r.webhook_id].type
    for tid in ids:
        first = list(dict.fromkeys(r.webhook_id for r in got if r.data["ticket"]["id"] == tid))
        assert [events[i].type for i in first] == PER_TICKET
        assert [events[i].payload["changes"]["priority"] for i in first[1:]] == ["low", "high"]


def test_a_server_killed_mid_delivery_loses_nothing_when_another_starts(deployment, receiver):
    settings, key = deployment
    env = _env(settings, HELPDESK_WEBHOOK_TIMEOUT_SECONDS="20")  # the hung send is in flight at the kill
    receiver.delay = 30  # the first requests hang
    receiver.start()
    server, port = start_server(env)
    try:
        with _api(port, key) as api:
            hook = _subscribe(api, receiver, TICKET_EVENTS)
            ids = _tickets(api, 3, "Laptop will not boot")
        _wait(lambda: receiver.requests >= 1, "a delivery to reach the receiver")
        server.send_signal(signal.SIGKILL)
        assert server.wait(timeout=30) == -signal.SIGKILL
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=30)
    assert not receiver.received  # nothing was answered
    events = _outbox(settings, hook)
    assert len(events) == 3 * len(PER_TICKET)
    assert "sending" in _states(settings, hook)  # claimed by the dead process

    receiver.delay = 0
    server, port = start_server(env)
    try:
        _wait(lambda: {r.webhook_id for r in receiver.received} >= set(events), "every event")
        _wait(lambda: set(_states(settings, hook)) == {"delivered"}, "every delivery recorded")
        _check_received(receiver, events, ids)
        with _api(port, key) as api:
            assert api.delete(f"/v1/webhooks/{hook}").status_code == 204
    finally:
        stop_server(server)


def test_a_receiver_that_was_down_gets_every_event_once_it_is_back(deployment, receiver):
    settings, key = deployment
    server, port = start_server(_env(settings))
    try:
        with _api(port, key) as api:
            hook = _subscribe(api, receiver, TICKET_EVENTS)  # not started: connections are refused
            ids = _tickets(api, 3, "Printer on floor 2 jams")

            def failed_once() -> bool:
                items = api.get(f"/v1/webhooks/{hook}/deliveries", params={"state": "pending"}).json()["items"]
                return any(item["attempts"] >= 2 and item["last_error"] for item in items)

            _wait(failed_once, "deliveries retried while the receiver is down")
            assert not receiver.requests
            receiver.start()
            events = _outbox(settings, hook)
            _wait(lambda: {r.webhook_id for r in receiver.received} >= set(events), "every event")
            _wait(lambda: set(_states(settings, hook)) == {"delivered"}, "every delivery recorded")
            _check_received(receiver, events, ids)
            assert api.delete(f"/v1/webhooks/{hook}").status_code == 204
    finally:
        stop_server(server)


def _cli(settings, env: dict[str, str], *args: str, code: int = 0):
    result = helpdesk(settings, "webhooks", *args, env=env, timeout=120)
    assert result.returncode == code, f"{args}: {result.stdout}{result.stderr}"
    return result


def test_the_webhooks_command_line(settings, receiver):
    """add, list, test, deliver --once, deliveries, redeliver, deliver (until SIGTERM) and remove, audited
    under the CLI's actor; bad input is one line naming the field, exit code 2."""
    env = _env(settings)
    events = ("--event", "webhook.test", "--event", "ticket.created")
    added = _cli(settings, env, "add", receiver.url, *events, "--description", "ops bridge")
    hook, receiver.secret = re.fullmatch(r"webhook (\d+) \(.*\): (whsec_\S+)\n", added.stdout).groups()
    listed = _cli(settings, env, "list").stdout
    assert f"{hook}\tactive\t{receiver.url}\twebhook.test,ticket.created\tops bridge" in listed
    assert "whsec_" not in listed

    queued = _cli(settings, env, "test", hook).stdout
    (event_id,) = re.findall(r"msg_[0-9a-f]+", queued)
    assert _cli(settings, env, "deliver", "--once").stdout.startswith("1 attempted; 1 still waiting")  # down
    log = _cli(settings, env, "deliveries", hook).stdout
    (delivery,) = re.findall(rf"^(\d+)\twebhook.test\t{event_id}\t-\tpending\t1 attempts\t\S", log, re.M)
    time.sleep(0.5)  # the retry falls due (the first back-off is at most 0.2 s)
    receiver.start()
    assert _cli(settings, env, "deliver", "--once").stdout.startswith("1 attempted; 0 still waiting")
    (got,) = receiver.received
    assert (got.webhook_id, got.type, got.data["webhook_id"]) == (event_id, "webhook.test", int(hook))
    log = _cli(settings, env, "deliveries", hook).stdout
    assert log.startswith(f"{delivery}\twebhook.test\t{event_id}\t-\tdelivered\t2 attempts\tHTTP 200\n")
    assert _cli(settings, env, "deliveries", hook, "--state", "failed").stdout == ""

    assert event_id in _cli(settings, env, "redeliver", hook, delivery).stdout
    assert _cli(settings, env, "deliver", "--once").stdout.startswith("1 attempted")
    assert [r.webhook_id for r in receiver.received] == [event_id, event_id]  # the same id again

    deliverer = launch(settings, "webhooks", "deliver", env=env)  # runs until SIGTERM
    try:
        _cli(settings, env, "test", hook)
        receiver.wait_for(3)
    finally:
        deliverer.terminate()
        ended = finish(deliverer, timeout=60)
    assert ended.returncode == 0, ended.stderr

    assert _cli(settings, env, "remove", hook).stdout == f"webhook {hook} removed\n"
    assert _cli(settings, env, "list").stdout == ""
    with _session(settings) as session:
        actions = session.execute(select(AuditEvent.action, AuditEvent.actor, AuditEvent.target)).all()
    mine = [(action, target) for action, actor, target in actions if actor.startswith("cli:")]
    assert mine == [(a, f"webhook:{hook}") for a in ("webhook.created", "webhook.redelivered", "webhook.deleted")]

    for args, field in (
        (("add", "ftp://example.org/hook"), "url"),
        (("add", "http://10.0.0.8/hook"), "url"),
        (("add", receiver.url, "--event", "ticket.exploded"), "events"),
        (("add", receiver.url, "--secret", "hunter2"), "secret"),
        (("remove", hook), "webhook_id"),
        (("deliveries", "999"), "webhook_id"),
        (("redeliver", "999", "1"), "delivery_id"),
    ):
        refused = _cli(settings, env, *args, code=2)
        assert refused.stderr.startswith(f"error [{field}]: ") and refused.stderr.count("\n") == 1, refused.stderr
        assert refused.stdout == ""
