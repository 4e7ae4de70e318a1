"""``helpdesk bench``: what suggestions cost, measured on real data (a benchmark, not a test).

A fresh deployment in a scratch folder holds the demo KB and the endava IT tickets as history; the
requests are held-out endava tickets. It measures the encoder alone (one text at a time and in
batches), the in-process cost of one suggestion split into encode, search and classify, suggest latency
over HTTP with 1, 8 and 32 concurrent clients against ``helpdesk serve``, cold start and retrain time.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ("STAGES", "demo_deployment", "http_latency", "http_path_stages", "in_process_split", "percentiles", "timed")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {f"p{q}": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}


def encoder_alone(encoder, texts: Sequence[str], batch: int = 64) -> dict[str, Any]:
    """The encoder by itself: milliseconds per text one at a time, and texts per second in batches."""
    singles = [timed(lambda t=t: encoder.encode_batch([t]))[0] for t in texts[:200]]
    elapsed, _ = timed(lambda: [encoder.encode_batch(texts[i : i + batch]) for i in range(0, len(texts), batch)])
    return {
        "one_at_a_time": percentiles(singles),
        "one_at_a_time_per_second": round(len(singles) / sum(singles), 1),
        "batch_size": batch,
        "batch_texts_per_second": round(len(texts) / elapsed, 1),
    }


STAGES = ("redaction", "language detection", "encode", "ticket search", "KB passage search", "classify", "evidence")


def in_process_split(bundle, knowledge, encoder, drafts: Sequence[tuple[str, str]], top_k: int = 5) -> dict[str, Any]:
    """One suggestion's model work without HTTP (everything :func:`~triage.desk.suggest.suggest_many` does
    for one draft), in all and stage by stage (:data:`STAGES`), and its CPU time per suggestion."""
    from triage.desk.suggest import suggest_many
    from triage.stages import Stages

    per_stage: dict[str, list[float]] = {name: [] for name in STAGES}
    totals = []
    cpu = time.process_time()
    for subject, body in drafts:
        stages = Stages()
        elapsed, _ = timed(lambda: suggest_many(bundle, knowledge, encoder, [(subject, body, top_k)], stages))  # noqa: B023
        totals.append(elapsed)
        for name in STAGES:
            per_stage[name].append(stages.seconds.get(name, 0.0))
    return {
        "total": percentiles(totals),
        "stages": {name: percentiles(values) for name, values in per_stage.items()},
        "cpu_ms_per_request": round((time.process_time() - cpu) / max(1, len(drafts)) * 1000, 2),
    }


def http_path_stages(sessions, bundle, knowledge, encoder, drafts: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What a suggestion costs over HTTP beside the model work: its audit event (queued to the process's
    :class:`~models.audit_writer.AuditWriter` and written; a lone request's event is a transaction of its
    own) and its serialisation to JSON (msgspec, as the API encodes it)."""
    import msgspec

    from models.audit import Actor
    from models.audit_writer import AuditWriter
    from triage.desk.suggest import suggest
    from triage.desk.tickets import prediction_detail

    results = [suggest(bundle, knowledge, encoder, subject=s, body=b) for s, b in drafts]
    writer, actor = AuditWriter(sessions), Actor("bench", "agent")
    try:
        audit = [
            timed(lambda r=r: (writer.record(actor, "prediction.served", **prediction_detail(r)), writer.flush()))[0]
            for r in results
        ]
    finally:
        writer.close()
    encode = [timed(lambda r=r: msgspec.json.encode(r))[0] for r in results]
    return {"audit insert": percentiles(audit), "serialisation": percentiles(encode)}


def _client_run(port: int, key: str, bodies: Sequence[bytes]) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}
    latencies = []
    for body in bodies:
        start = time.perf_counter()
        connection.request("POST", "/v1/suggest", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"suggest answered {response.status}")
        latencies.append(time.perf_counter() - start)
    connection.close()
    return latencies


def http_latency(
    port: int, key: str, drafts: Sequence[tuple[str, str]], clients: int, per_client: int
) -> dict[str, Any]:
    """Suggest over HTTP with ``clients`` concurrent keep-alive clients, ``per_client`` requests each."""
    bodies = [json.dumps({"subject": s, "body": b}).encode() for s, b in drafts]
    plans = [[bodies[(c * per_client + i) % len(bodies)] for i in range(per_client)] for c in range(clients)]
    cpu = time.process_time()
    with ThreadPoolExecutor(clients) as pool:
        elapsed, results = timed(lambda: list(pool.map(lambda plan: _client_run(port, key, plan), plans)))
    latencies = [x for run in results for x in run]
    return {
        "clients": clients,
        "requests": len(latencies),
        **percentiles(latencies),
        "throughput_per_second": round(len(latencies) / elapsed, 1),
        "client_cpu_cores": round((time.process_time() - cpu) / elapsed, 2),  # the clients share the server's cores
    }


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen, float]:
    """``helpdesk serve`` on ``port``; returns the process and the seconds until ``/ready`` said 200."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    while time.perf_counter() - start < 300:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited; see {log}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/ready")
            if connection.getresponse().status == 200:
                return process, time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server never became ready")


def scratch_env(var: Path, **extra: str) -> dict[str, str]:
    """The environment of a scratch deployment under ``var``."""
    return {
        **os.environ,
        "HELPDESK_VAR_DIR": str(var),
        "HELPDESK_DATABASE_URL": f"sqlite:///{var / 'helpdesk.db'}",
        "HELPDESK_ARTIFACTS_DIR": str(var / "artifacts"),
        **extra,
    }


def compare_encoders(encoders: dict[str, Any], short: Sequence[str], long: Sequence[str]) -> dict[str, Any]:
    """Each backend on short texts (customer queries) and long ones (tickets): :func:`encoder_alone`,
    plus each backend's short-text batch throughput as a multiple of the first backend's."""
    report = {
        name: {"short": encoder_alone(encoder, short), "long": encoder_alone(encoder, long)}
        for name, encoder in encoders.items()
    }
    first = next(iter(report.values()))["short"]["batch_texts_per_second"]
    for result in report.values():
        result["short_speedup"] = round(result["short"]["batch_texts_per_second"] / first, 2)
    return report


def ingest_rate(ingest: Callable[[], dict[str, int]], encoder, texts: Sequence[str]) -> dict[str, Any]:
    """Bulk ingest end to end (``ingest()`` imports and embeds ``texts``' tickets into an empty cache)
    against the encoder alone on the same texts, in the same chunks of 256 the ingest encodes."""
    seconds, counts = timed(ingest)
    alone, _ = timed(lambda: [encoder.encode_batch(texts[i : i + 256]) for i in range(0, len(texts), 256)])
    ingest_per_second, encoder_per_second = counts["created"] / seconds, len(texts) / alone
    return {
        "tickets": counts["created"],
        "embedded": counts["embedded"],
        "ingest_seconds": round(seconds, 1),
        "ingest_per_second": round(ingest_per_second, 1),
        "encoder_alone_per_second": round(encoder_per_second, 1),
        "ratio": round(ingest_per_second / encoder_per_second, 2),
    }


def demo_deployment(settings, sessions, encoder) -> list[dict[str, Any]]:
    """Fill a scratch deployment with the demo KB and tickets and promote a bundle trained on them; returns
    the demo tickets' rows."""
    import json

    from kb.importer import import_folder
    from models.db import session_scope
    from triage.bundles.retrain import retrain
    from triage.desk.ticket_import import import_tickets

    rows = []
    with session_scope(sessions) as session:
        import_folder(session, settings.data_dir / "kb")
        for file in sorted((settings.data_dir / "tickets").glob("*.jsonl")):
            import_tickets(session, file)
            rows += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    retrain(sessions, encoder, settings.models.artifacts_dir, promote=True, force=True)
    return rows
