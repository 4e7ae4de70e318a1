"""Past one machine, measured: ``POST /v1/suggest`` throughput with several API processes (each a replica
behind a load balancer: its own port, encoder and bundle) against one PostgreSQL, the server CPU each
request costs, and the time from ``POST /v1/models/train`` to the new bundle serving on every replica when
a queue worker trains it."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from triage.evaluation.bench import free_port, percentiles, start_server

__all__ = ("process_cpu_seconds", "replica_throughput", "train_to_serving")


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU seconds the process ``pid`` has used (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _call(port: int, key: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    status, payload = response.status, json.loads(response.read() or b"null")
    connection.close()
    return status, payload


def _load(ports: Sequence[int], key: str, drafts: Sequence[tuple[str, str]], clients: int, seconds: float):
    """``clients`` keep-alive clients, spread over ``ports``, posting drafts for ``seconds``: (latencies,
    errors, elapsed)."""
    bodies = [json.dumps({"subject": s, "body": b}).encode() for s, b in drafts]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", ports[n % len(ports)], timeout=120)
        headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
        mine, i = [], n
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            connection.request("POST", "/v1/suggest", body=bodies[i % len(bodies)], headers=headers)
            response = connection.getresponse()
            response.read()
            i += clients
            if response.status == 200:
                mine.append(time.perf_counter() - began)
            else:
                with lock:
                    errors[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0], time.perf_counter() - began


def replica_throughput(
    env: dict[str, str],
    key: str,
    drafts: Sequence[tuple[str, str]],
    replicas: int,
    clients: int,
    seconds: float,
    var: Path,
) -> dict[str, Any]:
    """Start ``replicas`` API processes (the machine's cores shared among them), warm them, then load them
    with ``clients`` clients for ``seconds``: requests per second, latency, and server CPU per request."""
    threads = max(1, (os.cpu_count() or 1) // replicas)
    extra = {"HELPDESK_WORKERS": "1", "HELPDESK_THREADS": str(threads)}
    servers = []
    try:
        for n in range(replicas):
            port = free_port()
            servers.append((*start_server({**env, **extra}, port, var / f"replica-{replicas}-{n}.log"), port))
        ports = [port for _, _, port in servers]
        _load(ports, key, drafts[:50], replicas, 3)  # warm-up
        before = sum(process_cpu_seconds(server.pid) for server, _, _ in servers)
        latencies, errors, elapsed = _load(ports, key, drafts, clients, seconds)
        cpu = sum(process_cpu_seconds(server.pid) for server, _, _ in servers) - before
    finally:
        for server, _, _ in servers:
            server.terminate()
            server.wait(timeout=60)
    return {
        "replicas": replicas,
        "threads_each": threads,
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "throughput_per_second": round(len(latencies) / elapsed, 1),
        **percentiles(latencies),
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(latencies)), 2),
    }


def train_to_serving(ports: Sequence[int], key: str, timeout: float = 900) -> dict[str, Any]:
    """Start retraining with promotion on the first replica and time the job's end (on a worker) and the
    moment every replica's ``/ready`` names the new bundle."""
    began = time.perf_counter()
    status, started = _call(ports[0], key, "POST", "/v1/models/train", {"promote": True, "force": True})
    if status != 202:
        raise RuntimeError(f"training was not started: {status} {started}")
    job_done = None
    while time.perf_counter() - began < timeout:
        if job_done is None:
            _, job = _call(ports[0], key, "GET", started["url"])
            if job["state"] == "failed":
                raise RuntimeError(f"training failed: {job['error']}")
            if job["state"] == "succeeded":
                job_done, version = time.perf_counter() - began, job["result"]["version"]
        if job_done is not None and all(_call(p, key, "GET", "/ready")[1]["bundle_version"] == version for p in ports):
            return {
                "job_seconds": round(job_done, 2),
                "serving_everywhere_seconds": round(time.perf_counter() - began, 2),
                "replicas": len(ports),
            }
        time.sleep(0.1)
    raise RuntimeError("the new bundle did not reach every replica in time")
