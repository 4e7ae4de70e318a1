"""Real processes for tests: ``helpdesk`` commands, and ``helpdesk serve`` on a free port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from triage.bench import free_port

ROOT = Path(__file__).resolve().parents[1]


def settings_env(settings, **extra: str) -> dict[str, str]:
    """This process's environment with ``settings``' database and artifacts folder (and ``extra``)."""
    return {
        **os.environ,
        "HELPDESK_DATABASE_URL": settings.database.url,
        "HELPDESK_ARTIFACTS_DIR": str(settings.models.artifacts_dir),
        **extra,
    }


def helpdesk(settings, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``helpdesk ARGS`` against ``settings``' database and artifacts."""
    return subprocess.run(
        [sys.executable, "-m", "triage.cli", *args],
        cwd=ROOT,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def kill_when(settings, marker: str, *args: str) -> str:
    """Start ``helpdesk ARGS`` and kill -9 it as soon as ``marker`` shows on its stderr (a progress bar's
    label, say); returns the stderr seen. Fails if the command ends before the marker appears."""
    process = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", *args],
        cwd=ROOT,
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    seen = ""
    while marker not in seen:
        chunk = process.stderr.read(1)
        if not chunk:
            process.wait(timeout=30)
            raise AssertionError(f"helpdesk {' '.join(args)} ended before {marker!r}: {seen[-2000:]}")
        seen += chunk
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL
    return seen


def wait_ready(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``/ready`` answers 200; fail with the server's output if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"server exited: {server.stdout.read() if server.stdout else ''}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("server never became ready")


def start_server(env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen, int]:
    """``helpdesk serve`` with ``env`` on a free port, once it is ready; terminate it when done. Its
    output goes to ``log`` when given (for servers that answer more requests than a pipe holds)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("w") if log else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_ready(port, server)
    except BaseException:
        server.kill()
        raise
    return server, port


def server_stacks(server: subprocess.Popen, log: Path) -> str:
    """Ask a running server started with ``log`` for every thread's stack (SIGUSR1, see
    ``api.app.create_app_from_env``); returns the end of its log, stacks included."""
    server.send_signal(signal.SIGUSR1)
    time.sleep(2)
    return f"the server's log ends:\n{log.read_text()[-20_000:]}"


def stop_server(server: subprocess.Popen, log: Path, grace: float = 30) -> None:
    """Stop a server started with ``log``. One that is still busy ``grace`` seconds after SIGTERM (a request
    hanging) is asked for every thread's stack, killed, and reported with the end of its log."""
    server.terminate()
    try:
        server.wait(timeout=grace)
        return
    except subprocess.TimeoutExpired:
        stacks = server_stacks(server, log)
        server.kill()
        server.wait(timeout=30)
    raise AssertionError(f"the server did not stop within {grace:.0f} s; {stacks}")
