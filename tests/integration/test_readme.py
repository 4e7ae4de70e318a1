"""The README's two-command promise and its curl session, run for real: CLI demo, uvicorn, curl."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.processes import helpdesk, start_server, stop_server

pytestmark = pytest.mark.slow  # the demo command and a real server

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def readme_commands() -> list[tuple[str, str, int | None]]:
    """(comment, command, expected status) for each curl command in the "Try the API" block."""
    section = README.read_text().split("## Try the API", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands, comment, pending = [], "", ""
    for line in block.splitlines():
        if line.startswith("#"):
            comment = line
            continue
        if not line.strip():
            continue
        pending += line.rstrip("\\").rstrip() + " "
        if not line.endswith("\\"):
            expect = re.search(r"expect (\d{3})", comment)
            commands.append((comment, pending.strip(), int(expect.group(1)) if expect else None))
            pending = ""
    return commands


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    var = tmp_path_factory.mktemp("readme-var")
    env = {**os.environ, "HELPDESK_VAR_DIR": str(var), "HELPDESK_DATABASE_URL": f"sqlite:///{var / 'helpdesk.db'}"}
    env.pop("HELPDESK_ARTIFACTS_DIR", None)
    demo = helpdesk(None, "demo", "--no-serve", env=env, timeout=500)
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "is active" in demo.stdout
    keys = dict(re.findall(r"export (\w+_KEY)=(\S+)", demo.stdout))
    assert set(keys) == {"PORTAL_KEY", "AGENT_KEY", "ANALYST_KEY", "ADMIN_KEY"}
    server, port = start_server(env)
    try:
        yield port, {**os.environ, **keys}
    finally:
        stop_server(server)


def test_readme_curl_session_runs(demo_server):
    commands = readme_commands()
    assert len(commands) >= 6
    outputs = {}
    port, env = demo_server
    for _comment, command, expected in commands:
        command = command.replace("localhost:8000", f"127.0.0.1:{port}")
        result = subprocess.run(
            ["bash", "-c", command + " -w '\\n%{http_code}'"], capture_output=True, text=True, timeout=60, env=env
        )
        assert result.returncode == 0, (command, result.stderr)
        body, _, status = result.stdout.rpartition("\n")
        if expected:
            assert int(status) == expected, (command, body)
        else:
            assert 200 <= int(status) < 300, (command, body)
        outputs[command] = json.loads(body)
    suggest = next(out for cmd, out in outputs.items() if "/v1/suggest" in cmd and "VPN" in cmd)
    assert suggest["articles"][0]["slug"] == "i-forgot-my-vpn-password"
    assert suggest["predictions"]["category"]["label"] in {"Network & VPN", "Accounts & Passwords"}
    ticket = next(out for cmd, out in outputs.items() if cmd.rstrip("'").endswith("/v1/tickets/350"))
    assert ticket["subject"].startswith("Printer")
    problem = next(out for cmd, out in outputs.items() if '"subject": ""' in cmd)
    assert problem["field"] == "subject"
    forbidden = next(out for cmd, out in outputs.items() if "PORTAL_KEY" in cmd and "/v1/tickets/" in cmd)
    assert forbidden["status"] == 403 and forbidden["field"] == "authorization"
    keyless = subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/v1/tickets/350"], capture_output=True, text=True)
    assert json.loads(keyless.stdout)["status"] == 401


def test_readme_learning_loop_runs(demo_server):
    section = README.read_text().split("## The learning loop", 1)[1]
    script = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    port, env = demo_server
    script = script.replace("localhost:8000", f"127.0.0.1:{port}")
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=500, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    documents, text, decoder = [], result.stdout.strip(), json.JSONDecoder()
    while text:
        document, end = decoder.raw_decode(text)
        documents.append(document)
        text = text[end:].lstrip()
    job, gate, shadow, promoted, analytics, rolled_back, audit = documents
    assert job["state"] == "succeeded" and job["result"]["version"] == gate["candidate"]
    assert gate["label_changes"]["assignee"]["added"] == ["Network Team"]
    assert shadow["fields"]["assignee"]["changed"]["fixed"] >= 10  # the effect, before promoting
    assert promoted["active"] == gate["candidate"] and rolled_back["active"] == gate["active"]
    assert analytics["fields"]["assignee"]["decisions"] >= 12
    actions = [(e["action"], e["actor"], e["role"]) for e in audit["items"]]
    assert actions[:3] == [
        ("model.rolled_back", "demo-analyst", "analyst"),
        ("model.promoted", "demo-analyst", "analyst"),
        ("model.training_started", "demo-analyst", "analyst"),
    ]
