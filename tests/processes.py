"""Real processes for tests: ``helpdesk`` commands, and ``helpdesk serve`` on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from triage.evaluation.bench import free_port

ROOT = Path(__file__).resolve().parents[1]


# webhook deliveries in tests: loopback receivers allowed, a killed sender's lease and every retry short
FAST_WEBHOOKS = {
    "HELPDESK_WEBHOOK_ALLOW_NETWORKS": "loopback",
    "HELPDESK_WEBHOOK_LEASE_SECONDS": "3",
    "HELPDESK_WEBHOOK_BACKOFF_SECONDS": "0.2",
    "HELPDESK_WEBHOOK_MAX_BACKOFF_SECONDS": "1",
    "HELPDESK_WEBHOOK_POLL_SECONDS": "0.2",
}


def settings_env(settings, **extra: str) -> dict[str, str]:
    """This process's environment with ``settings``' database and artifacts folder (and ``extra``)."""
    return {
        **os.environ,
        "HELPDESK_DATABASE_URL": settings.database.url,
        "HELPDESK_ARTIFACTS_DIR": str(settings.models.artifacts_dir),
        **extra,
    }


def launch(settings, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``helpdesk ARGS`` against ``settings``' database and artifacts (or with ``env``); collect it
    with :func:`finish`."""
    return subprocess.Popen(
        [sys.executable, "-m", "triage.cli", *args],
        cwd=ROOT,
        env=env if env is not None else settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> subprocess.CompletedProcess:
    """Wait for a command started by :func:`launch`. One still running after ``timeout`` seconds is asked
    for its threads' stacks, killed, and reported."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)  # the CLI writes every thread's stack to its stderr
        time.sleep(2)
        process.kill()
        out, err = process.communicate()
        command = " ".join(process.args[3:])
        message = f"helpdesk {command} still ran after {timeout:.0f} s; its stderr ends:\n{err[-20_000:]}"
        raise AssertionError(message) from None
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def helpdesk(
    settings, *args: str, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``helpdesk ARGS`` to the end (see :func:`launch` and :func:`finish`)."""
    return finish(launch(settings, *args, env=env), timeout)


def kill_when(settings, marker: str, *args: str, timeout: float = 300) -> str:
    """Start ``helpdesk ARGS`` and kill -9 it as soon as ``marker`` shows on its stderr (a progress bar's
    label, say); returns the stderr seen. Fails if the command ends before the marker appears, and with its
    threads' stacks if the marker has not appeared within ``timeout`` seconds."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", *args],
        cwd=ROOT,
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    seen: list[str] = []

    def watch() -> None:  # reads stderr and kills the moment the marker shows
        while marker not in "".join(seen[-len(marker) - 1 :]):
            chunk = process.stderr.read(1)
            if not chunk:
                return
            seen.append(chunk)
        process.send_signal(signal.SIGKILL)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    watcher.join(timeout)
    if watcher.is_alive():
        process.send_signal(signal.SIGUSR1)  # its threads' stacks, onto the stderr being read
        time.sleep(2)
        process.kill()
        watcher.join(30)
        raise AssertionError(
            f"helpdesk {' '.join(args)} showed no {marker!r} in {timeout:.0f} s: {''.join(seen)[-20_000:]}"
        )
    text = "".join(seen)
    if marker not in text:
        process.wait(timeout=30)
        raise AssertionError(f"helpdesk {' '.join(args)} ended before {marker!r}: {text[-2000:]}")
    assert process.wait(timeout=30) == -signal.SIGKILL
    return text


_LOGS: dict[subprocess.Popen, Path] = {}  # the servers started here and still running, with their logs


def live_servers() -> dict[subprocess.Popen, Path]:
    """The servers started by :func:`start_server` and not yet stopped, with their logs."""
    return {server: log for server, log in _LOGS.items() if server.poll() is None}


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``/ready`` answers 200; fail with the server's log if it exits first, and with its threads'
    stacks if it is not ready within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {_LOGS[server].read_text()[-20_000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"server not ready after {timeout:.0f} s; {server_stacks(server)}")


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``helpdesk ARGS`` writing to ``log``, remembered for :func:`server_stacks` and :func:`live_servers`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", *args], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    _LOGS[process] = log
    return process


def start_server(env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """``helpdesk serve`` with ``env`` on a free port, once it is ready; stop it with :func:`stop_server`. Its
    output goes to ``log`` (a temp file when not given), which :func:`server_stacks` reads."""
    port = free_port()
    if log is None:
        handle, name = tempfile.mkstemp(prefix="helpdesk-server-", suffix=".log")
        os.close(handle)
        log = Path(name)
    # one process unless the test asks for more: its stacks answer SIGUSR1, and the suite's cores are shared
    server = _spawn(["serve", "--port", str(port)], {"HELPDESK_WORKERS": "1", **env}, log)
    try:
        wait_ready(port, server)
    except BaseException:
        server.kill()
        server.wait(timeout=30)
        _LOGS.pop(server, None)
        raise
    return server, port


def server_stacks(server: subprocess.Popen) -> str:
    """Ask a running server for every thread's stack (SIGUSR1, see ``api.app.create_app_from_env``);
    returns the end of its log, stacks included."""
    log = _LOGS[server]
    if server.poll() is None:
        server.send_signal(signal.SIGUSR1)
        time.sleep(2)
    return f"the server's log ({log}) ends:\n{log.read_text()[-20_000:]}"


def stop_server(server: subprocess.Popen, grace: float = 30) -> None:
    """Stop a server started by :func:`start_server`. One that is still busy ``grace`` seconds after SIGTERM
    (a request hanging) is asked for every thread's stack, killed, and reported with the end of its log."""
    server.terminate()
    try:
        server.wait(timeout=grace)
        _LOGS.pop(server, None)
        return
    except subprocess.TimeoutExpired:
        stacks = server_stacks(server)
        server.kill()
        server.wait(timeout=30)
        _LOGS.pop(server, None)
    raise AssertionError(f"the server did not stop within {grace:.0f} s; {stacks}")


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """``helpdesk worker`` with ``env``, once it takes jobs (its log says so); output to ``log``. Stop it with
    :func:`stop_server` or kill it."""
    worker = _spawn(["worker"], env, log)
    deadline = time.monotonic() + 120
    while "jobs at a time" not in log.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            _LOGS.pop(worker, None)
            raise AssertionError(f"the worker did not start: {log.read_text()[-20_000:]}")
        time.sleep(0.2)
    return worker
