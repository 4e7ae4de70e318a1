"""``helpdesk bench-connectors``: a django-helpdesk connector measured end to end on a scratch deployment
(the demo KB and tickets, a bundle trained on them) served by ``helpdesk serve`` on PORT, against a running
django-helpdesk whose webhooks post to that port (``python -m tests.djangohelpdesk`` starts one)."""

from __future__ import annotations

import csv
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ("bench_connectors_command",)


def _render(report: dict[str, Any]) -> str:
    lines = ["# helpdesk bench-connectors", "", f"Command: `{report['command']}`", "", "| measure | value |"]
    lines.append("|---|---|")
    lines += [f"| {key} | {value} |" for key, value in report["summary"].items()]
    return "\n".join(lines) + "\n"


def _history_rows(datasets: Path, count: int) -> list[dict[str, Any]]:
    """The first ``count`` endava tickets as helpdesk tickets: title, body, a queue index and a priority."""
    with (datasets / "endava-it-tickets" / "tickets.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for _, r in zip(range(count), csv.DictReader(handle), strict=False)]
    return [
        {
            "title": r["title"] or r["body"][:60],
            "body": r["body"],
            "queue": int(r["category"]),
            "priority": 1 + int(r["urgency"]),
        }
        for r in rows
    ]


@click.command("bench-connectors")
@click.option("--desk-url", required=True, help="The django-helpdesk's base URL (its API is under /api/).")
@click.option("--desk-user", default="admin", show_default=True)
@click.option("--desk-password", default="admin-secret-1", show_default=True)
@click.option("--queue", "queues", type=int, multiple=True, default=(1, 2, 3, 4), show_default=True)
@click.option("--port", default=8790, show_default=True, help="Our server's port (the helpdesk's webhooks post here).")
@click.option("--token", default="bench-webhook-token-0123456789", show_default=True, help="In the webhook URLs.")
@click.option("--tickets", "n_tickets", default=120, show_default=True, help="Tickets timed from creation to note.")
@click.option("--history", "n_history", default=400, show_default=True, help="Resolved endava tickets backfilled.")
@click.option("--var", type=click.Path(path_type=Path), default=Path("var/bench-connectors"), show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def bench_connectors_command(
    desk_url: str,
    desk_user: str,
    desk_password: str,
    queues: tuple[int, ...],
    port: int,
    token: str,
    n_tickets: int,
    n_history: int,
    var: Path,
    out: Path,
) -> None:
    """Measure the django-helpdesk connector: note latency and backfill rate."""
    import httpx

    from models.db import session_scope
    from models.migrate import upgrade
    from models.settings import Settings
    from triage.channels.connectors.registry import create_connector, get_connector
    from triage.cli.support import sessions
    from triage.evaluation.bench import demo_deployment, scratch_env, start_server
    from triage.evaluation.bench_connectors import backfill_rate, note_latency, resolved_history
    from triage.evaluation.report import write_report
    from triage.ml.embedding_cache import EmbeddingCache
    from triage.ml.encoders import configured_encoder
    from triage.text.redaction import Redactor

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    env = scratch_env(var.resolve(), HELPDESK_WEBHOOK_ALLOW_NETWORKS="loopback", HELPDESK_WEBHOOK_POLL_SECONDS="0.5")
    settings = Settings.from_env(env)
    history = _history_rows(settings.datasets_dir, n_history)
    upgrade(settings.database.url)
    factory = sessions(settings)
    encoder = configured_encoder(settings).load()
    rows = demo_deployment(settings, factory, encoder)
    with session_scope(factory) as session:
        create_connector(
            session,
            name="bench",
            kind="django-helpdesk",
            base_url=desk_url,
            credentials={"user": desk_user, "password": desk_password},
            webhook_secret=token,
            allow_networks=("loopback", "private"),
        )
    server, ready_s = start_server(env, port, var / "server.log")
    desk = httpx.Client(base_url=desk_url.rstrip("/") + "/api/", auth=(desk_user, desk_password), timeout=60)
    report: dict[str, Any] = {"encoder": encoder.name, "server_ready_seconds": round(ready_s, 1)}
    try:
        rng = random.Random(7)
        drafts = [(r["subject"], r["body"]) for r in (rng.choice(rows) for _ in range(n_tickets))]
        report["notes"] = note_latency(desk, drafts, queues[0])
        click.echo(f"notes: {report['notes']}", err=True)
        with session_scope(factory) as session:
            get_connector(session, "bench").active = False  # the history's webhooks are not triaged
        resolved_history(desk, history, queues)
        with session_scope(factory) as session:
            get_connector(session, "bench").active = True
    finally:
        server.terminate()
        server.wait(30)
        desk.close()
    cache = EmbeddingCache(var / "backfill-cache.sqlite", encoder.name, encoder.dimension)  # none of its texts
    texts = [(r["title"][:1000], r["body"]) for r in history]
    report["backfill"] = backfill_rate(
        factory, "bench", encoder, cache, texts, Redactor(settings.models.redact_patterns)
    )
    click.echo(f"backfill: {report['backfill']}", err=True)
    notes, fill = report["notes"], report["backfill"]
    report["summary"] = {
        "encoder": report["encoder"],
        "tickets timed": notes["tickets"],
        "created to our note, p50 (ms, django-helpdesk's clock)": notes["created_to_note_p50_ms"],
        "created to our note, p95 (ms, django-helpdesk's clock)": notes["created_to_note_p95_ms"],
        "creation request to note seen, p50 (ms)": notes["request_to_note_seen_p50_ms"],
        "creation request to note seen, p95 (ms)": notes["request_to_note_seen_p95_ms"],
        "backfill: tickets stored": f"{fill['created']} in {fill['pages']} pages",
        "backfill (tickets per second)": fill["backfill_per_second"],
        "encoder alone on the same texts (per second)": fill["encoder_alone_per_second"],
        "backfill / encoder alone": fill["ratio"],
    }
    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    json_path, md_path = write_report(report, out, "bench-connectors", render=_render)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")
