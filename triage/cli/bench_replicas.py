"""``helpdesk bench-replicas``: suggestion throughput with 1, 2 and 4 API processes on one PostgreSQL, the
server CPU per request, and the time from a training request to the new bundle serving on every replica
(trained by a queue worker)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

__all__ = ("bench_replicas_command",)

DATABASE = "helpdesk_bench_replicas"


def _scratch_database(admin_url: str) -> str:
    """A new, empty database ``helpdesk_bench_replicas`` on the server of ``admin_url`` (dropped first)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(admin_url).set(drivername="postgresql+psycopg")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    finally:
        engine.dispose()
    return url.set(database=DATABASE).render_as_string(hide_password=False)


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "triage.cli", "worker"], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    while "jobs at a time" not in log.read_text():
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited; see {log}")
        time.sleep(0.2)
    return process


def _render(report: dict[str, Any]) -> str:
    lines = ["# helpdesk bench-replicas", "", f"Command: `{report['command']}`", ""]
    lines += ["| API processes | threads each | clients | requests/s | p50 ms | p95 ms | server CPU ms/request |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for r in report["throughput"]:
        lines.append(
            f"| {r['replicas']} | {r['threads_each']} | {r['clients']} | {r['throughput_per_second']} "
            f"| {r['p50']} | {r['p95']} | {r['server_cpu_ms_per_request']} |"
        )
    lines += ["", "| reload poll (s) | training job (s) | new bundle on every replica (s) |", "|---|---|---|"]
    for r in report["train_to_serving"]:
        lines.append(f"| {r['reload_poll_seconds']} | {r['job_seconds']} | {r['serving_everywhere_seconds']} |")
    hooks = report.get("webhooks_on_the_queue")
    if hooks:
        lines += ["", f"Webhooks delivered by the workers, commit to verified receipt: {hooks}"]
    return "\n".join(lines) + "\n"


@click.command("bench-replicas")
@click.option("--postgres", "admin_url", required=True, help="A PostgreSQL server to make a scratch database on.")
@click.option("--var", type=click.Path(path_type=Path), default=Path("var/bench-replicas"), show_default=True)
@click.option("--replicas", default="1,2,4", show_default=True, help="API process counts to measure.")
@click.option("--clients", default=32, show_default=True)
@click.option("--seconds", default=20.0, show_default=True, help="Load per replica count.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def bench_replicas_command(admin_url: str, var: Path, replicas: str, clients: int, seconds: float, out: Path) -> None:
    """Measure API replicas and queue workers on a scratch deployment (the demo data) under VAR."""
    import shutil

    from models.access import create_key
    from models.db import session_scope
    from models.migrate import upgrade
    from models.settings import Settings
    from triage.cli.support import sessions
    from triage.evaluation.bench import demo_deployment, free_port, scratch_env, start_server
    from triage.evaluation.bench_channels import webhook_latency
    from triage.evaluation.bench_replicas import replica_throughput, train_to_serving
    from triage.evaluation.report import write_report
    from triage.ml.encoders import configured_encoder

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    url = _scratch_database(admin_url)
    env = {**scratch_env(var.resolve()), "HELPDESK_DATABASE_URL": url, "HELPDESK_BACKGROUND": "queue"}
    env["HELPDESK_WEBHOOK_ALLOW_NETWORKS"] = "loopback"  # the webhook receiver of the latency measure
    settings = Settings.from_env(env)
    upgrade(url)
    factory = sessions(settings)
    encoder = configured_encoder(settings).load()
    rows = demo_deployment(settings, factory, encoder)
    with session_scope(factory) as session:
        key = create_key(session, "admin", "bench", rate_limit=1_000_000)[1]
    drafts = [(r["subject"], r["body"]) for r in rows]
    report: dict[str, Any] = {"encoder": encoder.name, "throughput": [], "train_to_serving": []}
    for count in (int(n) for n in replicas.split(",")):
        result = replica_throughput(env, key, drafts, count, clients, seconds, var)
        click.echo(f"{count} API processes: {result}", err=True)
        report["throughput"].append(result)
    for poll in ("10", "1"):
        extra = {**env, "HELPDESK_RELOAD_POLL_SECONDS": poll, "HELPDESK_WORKERS": "1", "HELPDESK_THREADS": "1"}
        processes = [_worker(extra, var / f"worker-{poll}-{n}.log") for n in range(2)]
        try:
            ports = [free_port() for _ in range(2)]
            for port in ports:
                processes.append(start_server(extra, port, var / f"api-{poll}-{port}.log")[0])
            result = {"reload_poll_seconds": float(poll), **train_to_serving(ports, key)}
            if poll == "1":  # the workers deliver: from a commit in this process to the receiver
                report["webhooks_on_the_queue"] = webhook_latency(factory, 100, 0.05, deliverer=False)
                click.echo(f"webhooks on the queue: {report['webhooks_on_the_queue']}", err=True)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=120)
        click.echo(f"train to serving: {result}", err=True)
        report["train_to_serving"].append(result)
    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    write_report(report, out, "bench-replicas", _render)
    click.echo(_render(report))
