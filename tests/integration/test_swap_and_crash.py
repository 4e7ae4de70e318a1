"""Serving never stops or mixes versions: concurrent suggests during promote and rollback, two server
processes that both swap, and training killed half-way (while fitting and while writing the bundle)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from models import ArtifactVersion
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import BACKENDS, key_for
from tests.processes import helpdesk, kill_when, settings_env, start_server, stop_server
from triage.bundles.registry import get_active
from triage.bundles.training import KIND

pytestmark = pytest.mark.slow  # real servers and killed processes

SUBJECTS = ["I forgot my VPN password", "Printer jammed on floor 2", "Invoice for my order", "Outlook will not sync"]


def _env(settings) -> dict[str, str]:
    return settings_env(settings, HELPDESK_RELOAD_POLL_SECONDS="0.2")


def _call(key: str, port: int, method: str, path: str, payload: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(payload).encode() if payload is not None else None
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module", params=BACKENDS)
def two_bundles(request, deployments, tmp_path_factory):
    """The demo history with one active bundle (a copy of the demo deployment) and one candidate trained
    through the CLI (shared by the tests of this module, which each read the state they start from)."""
    settings = deployments.copy(request.param, root=tmp_path_factory.mktemp(f"swap-{request.param}"))
    second = helpdesk(settings, "train")
    assert second.returncode == 0, second.stderr[-2000:]
    assert len(_versions(settings)) == 2
    return settings


@pytest.fixture(scope="module")
def admin_key(two_bundles) -> str:
    return key_for(two_bundles.database.url)


def _versions(settings) -> list[str]:
    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        rows = session.query(ArtifactVersion).order_by(ArtifactVersion.created_at).all()
        versions = [row.version for row in rows]
    engine.dispose()
    return versions


def _active(settings) -> str | None:
    engine = make_engine(settings.database.url)
    with session_scope(make_session_factory(engine)) as session:
        row = get_active(session, KIND)
        version = row.version if row else None
    engine.dispose()
    return version


def test_concurrent_suggests_while_promoting_and_rolling_back(two_bundles, admin_key):
    settings = two_bundles
    first = _active(settings)
    second = next(v for v in _versions(settings) if v != first)
    env = _env(settings)
    (a, port_a), (b, port_b) = start_server(env), start_server(env)
    try:
        stop = time.monotonic() + 25

        def client(n: int) -> list[tuple[int, int, dict]]:
            seen = []
            while time.monotonic() < stop:
                port = (port_a, port_b)[n % 2]
                status, body = _call(admin_key, port, "POST", "/v1/suggest", {"subject": SUBJECTS[n % len(SUBJECTS)]})
                seen.append((port, status, body))
            return seen

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(client, n) for n in range(8)]
            swaps = 0
            while time.monotonic() < stop - 3:
                status, body = _call(admin_key, port_a, "POST", f"/v1/models/{second}/promote", {"force": True})
                assert status == 200, body
                time.sleep(0.5)
                status, body = _call(admin_key, port_a, "POST", "/v1/models/rollback")
                assert status == 200 and body["active"] == first, body
                time.sleep(0.5)
                swaps += 2
            responses = [r for f in futures for r in f.result()]

        assert swaps >= 4 and len(responses) >= 40
        assert [r for r in responses if r[1] != 200] == []  # zero errors
        for _, _, body in responses:  # every response names exactly one bundle version
            version = body["bundle_version"]
            assert version in (first, second)
            assert {p["bundle_version"] for p in body["predictions"].values()} == {version}
        for port in (port_a, port_b):
            assert {r[2]["bundle_version"] for r in responses if r[0] == port} == {first, second}

        status, _ = _call(admin_key, port_a, "POST", f"/v1/models/{second}/promote", {"force": True})
        deadline = time.monotonic() + 10  # the other process swaps at its next poll
        while _call(admin_key, port_b, "GET", "/ready")[1]["bundle_version"] != second and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _call(admin_key, port_b, "GET", "/ready")[1]["bundle_version"] == second
    finally:
        for server in (a, b):
            stop_server(server)


@pytest.mark.parametrize("moment", ["classifiers", "bundle"])
def test_training_killed_half_way_leaves_the_active_bundle_serving(two_bundles, admin_key, moment):
    settings = two_bundles
    active, versions = _active(settings), _versions(settings)
    folder = settings.models.artifacts_dir / KIND
    before = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))

    kill_when(settings, moment, "train", "--promote")  # "classifiers": while fitting; "bundle": while writing

    assert _active(settings) == active and _versions(settings) == versions  # registry untouched
    visible = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert visible == before  # no half-written bundle: only a hidden temp folder may be left
    server, port = start_server(_env(settings))
    try:
        assert _call(admin_key, port, "GET", "/ready")[1]["bundle_version"] == active
        status, body = _call(admin_key, port, "POST", "/v1/suggest", {"subject": "I forgot my VPN password"})
        assert status == 200 and body["bundle_version"] == active
    finally:
        stop_server(server)
    rerun = helpdesk(settings, "train")  # and training can simply be run again
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not any(p.name.startswith(".tmp-") for p in Path(folder).iterdir())  # the next write cleans up


def test_two_hundred_concurrent_suggests_during_a_promotion_all_succeed(two_bundles, admin_key):
    settings = two_bundles
    active = _active(settings)
    other = next(v for v in _versions(settings) if v != active)
    server, port = start_server(_env(settings))
    try:
        with ThreadPoolExecutor(64) as pool:
            futures = [
                pool.submit(_call, admin_key, port, "POST", "/v1/suggest", {"subject": SUBJECTS[n % len(SUBJECTS)]})
                for n in range(200)
            ]
            time.sleep(0.2)  # let the first requests get going, then swap under them
            status, body = _call(admin_key, port, "POST", f"/v1/models/{other}/promote", {"force": True})
            assert status == 200, body
            answers = [f.result() for f in futures]
        assert [s for s, _ in answers if s != 200] == []
        assert {b["bundle_version"] for _, b in answers} <= {active, other}
        assert _call(admin_key, port, "GET", "/ready")[1]["bundle_version"] == other
    finally:
        stop_server(server)
