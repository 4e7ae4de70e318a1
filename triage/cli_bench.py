"""``helpdesk bench``: latency, throughput and the cost split of suggestions on real data."""

from __future__ import annotations

import csv
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ("bench_command",)

ENDAVA_MAP = {"subject": "title", "body": "body", "category": "category", "priority": "urgency"}


def _render(report: dict[str, Any]) -> str:
    lines = ["# helpdesk bench", "", f"Command: `{report['command']}`", "", "| measure | value |", "|---|---|"]
    for key, value in report["summary"].items():
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"


@click.command("bench")
@click.option("--var", type=click.Path(path_type=Path), default=Path("var/bench"), show_default=True)
@click.option("--requests", "n_requests", default=200, show_default=True, help="Requests per concurrency level.")
@click.option("--history", "n_history", default=0, help="Use only the first N endava tickets (default: all).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def bench_command(var: Path, n_requests: int, n_history: int, out: Path) -> None:
    """Build a scratch deployment (demo KB, endava tickets as history) under VAR and measure suggest."""
    from kb.importer import import_folder
    from models.db import session_scope
    from models.migrate import upgrade
    from models.settings import Settings
    from triage.access import create_key
    from triage.bench import (
        encoder_alone,
        free_port,
        http_latency,
        in_process_split,
        scratch_env,
        start_server,
        timed,
    )
    from triage.cli_support import configured_encoder, sessions
    from triage.embedding_cache import EmbeddingCache
    from triage.knowledge import load_knowledge
    from triage.registry import get_active
    from triage.retrain import retrain
    from triage.suggest import load_bundle
    from triage.ticket_import import import_tickets, read_rows
    from triage.training import KIND

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    env = scratch_env(var.resolve())
    settings = Settings.from_env(env)
    source = settings.datasets_dir / "endava-it-tickets" / "tickets.csv"
    if not source.is_file():
        raise click.ClickException(f"{source} not found (set HELPDESK_DATASETS_DIR)")
    if n_history:  # a scratch copy of the first rows, inside the scratch deployment
        header, rows = read_rows(source)
        source = var / "history.csv"
        with source.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows[:n_history])
    upgrade(settings.database.url)
    factory = sessions(settings)
    encoder = configured_encoder(settings)
    with session_scope(factory) as session:
        import_folder(session, settings.data_dir / "kb")
        imported = import_tickets(session, source, ENDAVA_MAP)
    click.echo(f"history: {imported['created']} endava tickets", err=True)
    retrain_seconds, _ = timed(
        lambda: retrain(factory, encoder, settings.models.artifacts_dir, promote=True, force=True)
    )
    click.echo(f"retrain: {retrain_seconds:.1f} s", err=True)
    rows = read_rows(source)[1]
    drafts = [
        (str(r["title"] or ""), str(r["body"] or "")) for r in random.Random(7).sample(rows, min(1000, len(rows)))
    ]
    report: dict[str, Any] = {"history": imported["created"], "retrain_seconds": round(retrain_seconds, 1)}
    report["encoder"] = encoder_alone(encoder, [f"{s}\n{b}" for s, b in drafts])
    with session_scope(factory) as session:
        bundle = load_bundle(Path(get_active(session, KIND).path))
        knowledge = load_knowledge(
            session, encoder, EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        )
        secret = create_key(session, "agent", "bench", rate_limit=1_000_000)[1]
    report["in_process"] = in_process_split(bundle, knowledge.search, encoder, drafts[:n_requests])
    port = free_port()
    server, cold_start = start_server(env, port, var / "server.log")
    try:
        report["cold_start_seconds"] = round(cold_start, 2)
        http_latency(port, secret, drafts[:20], 1, 20)  # warm-up
        report["http"] = [
            http_latency(port, secret, drafts, clients, max(n_requests // clients, 1)) for clients in (1, 8, 32)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    one, many = report["http"][0], report["http"][-1]
    in_process_p50 = report["in_process"]["total"]["p50"]
    report["summary"] = {
        "suggest p50 over HTTP, 1 client (ms)": one["p50"],
        "in-process encode + search + classify p50 (ms)": in_process_p50,
        "HTTP / in-process (target <= 1.3)": round(one["p50"] / in_process_p50, 2),
        "throughput, 1 client (req/s)": one["throughput_per_second"],
        "throughput, 32 clients (req/s)": many["throughput_per_second"],
        "32 clients / 1 client (target >= 3)": round(many["throughput_per_second"] / one["throughput_per_second"], 2),
        "encoder one at a time (texts/s)": report["encoder"]["one_at_a_time_per_second"],
        "encoder in batches (texts/s)": report["encoder"]["batch_texts_per_second"],
        "cold start to ready (s)": report["cold_start_seconds"],
        "retrain with promotion (s)": report["retrain_seconds"],
    }
    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (out / "bench.md").write_text(_render(report), encoding="utf-8")
    click.echo(_render(report))
    click.echo(f"written {out / 'bench.json'} and {out / 'bench.md'}")
