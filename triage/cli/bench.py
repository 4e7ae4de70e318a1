"""``helpdesk bench``: latency, throughput, ingest, scale and the cost split of suggestions on real data."""

from __future__ import annotations

import csv
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from triage.cli.bench_summary import bench_summary

__all__ = ("bench_command",)

ENDAVA_MAP = {"subject": "title", "body": "body", "category": "category", "priority": "urgency"}
BACKENDS = ("minilm", "minilm-int8")


def _render(report: dict[str, Any]) -> str:
    lines = ["# helpdesk bench", "", f"Command: `{report['command']}`", "", "| measure | value |", "|---|---|"]
    for key, value in report["summary"].items():
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"


def _history(source: Path, var: Path, n_history: int) -> Path:
    """``source``, or a scratch copy of its first ``n_history`` rows inside the scratch deployment."""
    from triage.desk.ticket_import import read_rows

    if not n_history:
        return source
    header, rows = read_rows(source)
    copy = var / "history.csv"
    with copy.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows[:n_history])
    return copy


def _layouts(_ctx, _param, value: str) -> tuple[tuple[int, int], ...]:
    """``auto,1x2,2x1`` as ((workers, threads), ...); ``auto`` is (0, 0): the layout the server chooses."""
    layouts = []
    for part in value.split(","):
        if part.strip() == "auto":
            layouts.append((0, 0))
            continue
        workers, x, threads = part.strip().partition("x")
        if not (x and workers.isdigit() and threads.isdigit() and int(workers) > 0 and int(threads) > 0):
            raise click.BadParameter(f"{part!r} is not auto or WORKERSxTHREADS, e.g. 1x2", param_hint="--layouts")
        layouts.append((int(workers), int(threads)))
    return tuple(layouts)


def _layout_env(env: dict[str, str], workers: int, threads: int) -> tuple[dict[str, str], str, int]:
    """The server's environment for a layout, the layout's name (``auto (2x1)``: what the server chooses)
    and its threads per process."""
    from models.settings import Settings
    from triage.work.layout import choose_layout

    if workers:
        chosen_env = {**env, "HELPDESK_WORKERS": str(workers), "HELPDESK_THREADS": str(threads)}
        return chosen_env, f"{workers}x{threads}", threads
    env = {k: v for k, v in env.items() if k not in ("HELPDESK_WORKERS", "HELPDESK_THREADS")}
    chosen = choose_layout(Settings.from_env(env))
    return env, f"auto ({chosen.workers}x{chosen.threads})", chosen.threads


def _servers(env, secret: str, drafts, n_requests: int, layouts, var: Path, in_process, rounds: int):
    """HTTP latency and throughput at 1, 8 and 32 clients for each (workers, threads) server layout. On
    the first layout, ``rounds`` times in turn: ``in_process(drafts)`` and one client over HTTP on the
    same drafts, so that each HTTP / in-process ratio compares figures taken moments apart."""
    from triage.evaluation.bench import free_port, http_latency, start_server

    results = []
    for n, (workers, threads) in enumerate(layouts):
        layout_env, layout, _ = _layout_env(env, workers, threads)
        port = free_port()
        server, cold_start = start_server(layout_env, port, var / f"server-{layout.split()[0]}.log")
        result: dict[str, Any] = {"layout": layout, "cold_start_seconds": round(cold_start, 2)}
        try:
            http_latency(port, secret, drafts[:20], 1, 20)  # warm-up
            if n == 0:
                result["overhead_rounds"] = []
                for _ in range(rounds):
                    local = in_process(drafts[:n_requests])["total"]["p50"]
                    remote = http_latency(port, secret, drafts[:n_requests], 1, n_requests)["p50"]
                    result["overhead_rounds"].append(
                        {"in_process_p50": local, "http_p50": remote, "ratio": round(remote / local, 2)}
                    )
            result["levels"] = [http_latency(port, secret, drafts, c, max(n_requests // c, 1)) for c in (1, 8, 32)]
        finally:
            server.terminate()
            server.wait(timeout=60)
        results.append(result)
    return results


@click.command("bench")
@click.option("--var", type=click.Path(path_type=Path), default=Path("var/bench"), show_default=True)
@click.option("--requests", "n_requests", default=200, show_default=True, help="Requests per concurrency level.")
@click.option("--history", "n_history", default=0, help="Use only the first N endava tickets (default: all).")
@click.option("--scale", "sizes", multiple=True, type=int, default=(100_000, 1_000_000), show_default=True)
@click.option(
    "--layouts",
    default="auto,1x2,2x1",
    show_default=True,
    callback=_layouts,
    help="Server layouts: auto (what helpdesk serve chooses) or WORKERSxTHREADS; the targets are for the first.",
)
@click.option("--rounds", default=3, show_default=True, help="Rounds of in-process against HTTP, one client.")
@click.option("--compare/--no-compare", default=True, show_default=True, help="Also time the other encoder backend.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def bench_command(
    var: Path,
    n_requests: int,
    n_history: int,
    sizes: tuple[int, ...],
    layouts: tuple[tuple[int, int], ...],
    rounds: int,
    compare: bool,
    out: Path,
) -> None:
    """Build a scratch deployment (demo KB, endava tickets as history) under VAR and measure it, with the
    encoder HELPDESK_ENCODER names."""
    import numpy as np

    from kb.importer import import_folder
    from models.access import create_key
    from models.db import session_scope
    from models.migrate import upgrade
    from models.settings import Settings
    from triage.bundles.loading import load_bundle
    from triage.bundles.registry import get_active
    from triage.bundles.retrain import retrain
    from triage.bundles.training import KIND
    from triage.cli.support import sessions
    from triage.desk.ingest import ingest_texts, ingest_tickets
    from triage.desk.ticket_import import parse_tickets, read_rows
    from triage.evaluation.bench import (
        compare_encoders,
        http_path_stages,
        in_process_split,
        ingest_rate,
        scratch_env,
        timed,
    )
    from triage.evaluation.bench_scale import scale_section
    from triage.evaluation.report import write_report
    from triage.knowledge.kb_index import load_knowledge
    from triage.ml.embedding_cache import EmbeddingCache, encode_cached
    from triage.ml.encoders import configured_encoder, load_encoder
    from triage.ml.threads import pin_threads
    from triage.work.layout import usable_cores

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    env = scratch_env(var.resolve())
    settings = Settings.from_env(env)
    datasets = settings.datasets_dir
    source = datasets / "endava-it-tickets" / "tickets.csv"
    banking = datasets / "banking77"
    if not source.is_file() or not banking.is_dir():
        raise click.ClickException(f"the endava and banking77 datasets are not under {datasets}")
    source = _history(source, var, n_history)
    upgrade(settings.database.url)
    factory = sessions(settings)
    encoder = configured_encoder(settings).load()  # loaded before anything is timed
    cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
    report: dict[str, Any] = {"encoder": encoder.name, "threads": settings.threads_per_worker()}

    texts = ingest_texts(parse_tickets(source, ENDAVA_MAP))
    with session_scope(factory) as session:
        import_folder(session, settings.data_dir / "kb")
    report["ingest"] = ingest_rate(
        lambda: ingest_tickets(factory, parse_tickets(source, ENDAVA_MAP), encoder, cache), encoder, texts
    )
    click.echo(f"ingest: {report['ingest']}", err=True)
    retrain_seconds, _ = timed(
        lambda: retrain(factory, encoder, settings.models.artifacts_dir, promote=True, force=True)
    )
    report["history"], report["retrain_seconds"] = report["ingest"]["tickets"], round(retrain_seconds, 1)
    click.echo(f"retrain: {retrain_seconds:.1f} s", err=True)

    rows = read_rows(source)[1]
    drafts = [
        (str(r["title"] or ""), str(r["body"] or "")) for r in random.Random(7).sample(rows, min(1000, len(rows)))
    ]
    short = [r["text"] for r in read_rows(banking / "test.csv")[1]]
    random.Random(7).shuffle(short)
    if compare:
        others = {name: load_encoder(name, artifacts_dir=settings.models.artifacts_dir) for name in BACKENDS}
        report["encoders"] = compare_encoders(others, short[:1000], [f"{s}\n{b}" for s, b in drafts[:400]])
        del others
    # from here on, the threads of the first layout's server processes: its model work in this process
    report["serving_threads"] = threads = _layout_env(env, *layouts[0])[2]
    pin_threads(threads)
    encoder = load_encoder(settings.models.encoder, threads=threads, artifacts_dir=settings.models.artifacts_dir)
    with session_scope(factory) as session:
        bundle = load_bundle(Path(get_active(session, KIND).path))
        knowledge = load_knowledge(session, encoder, cache).search
        secret = create_key(session, "agent", "bench", rate_limit=1_000_000)[1]
    report["in_process"] = in_process_split(bundle, knowledge, encoder, drafts[:n_requests])
    report["http_path"] = http_path_stages(factory, bundle, knowledge, encoder, drafts[:n_requests])
    report["cores"] = usable_cores()
    report["cpu_bound_per_second"] = round(report["cores"] * 1000 / report["in_process"]["cpu_ms_per_request"], 1)

    if sizes:  # the bundle's ticket vectors and banking77's training queries, grown to each size
        ids = sorted(bundle.tickets)
        # the largest size uses the first max(sizes) base vectors only (then perturbed copies): encode no more
        train_rows = read_rows(banking / "train.csv")[1][: max(0, max(sizes) - len(ids))]
        vectors = np.vstack(
            [
                np.vstack([bundle.ticket_index.reconstruct(i) for i in ids]),
                encode_cached(encoder, [r["text"] for r in train_rows], cache),
            ]
        )
        items = [bundle.tickets[i] for i in ids] + [
            {"subject": r["text"], "category": r["category"]} for r in train_rows
        ]
        queries = encode_cached(encoder, short[:300], cache)
        report["scale"] = scale_section(
            bundle,
            knowledge,
            encoder,
            (vectors, items),
            queries,
            drafts[:n_requests],
            sorted(sizes),
            exact_limit=settings.models.ann_exact_limit,
            ef_search=settings.models.ann_ef_search,
        )
        click.echo(f"scale: {report['scale']}", err=True)

    split = lambda sample: in_process_split(bundle, knowledge, encoder, sample)  # noqa: E731
    report["servers"] = _servers(env, secret, drafts, n_requests, layouts, var, split, rounds)
    report["summary"] = bench_summary(report)
    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    json_path, md_path = write_report(report, out, f"bench-{settings.models.encoder}", render=_render)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")
