"""`helpdesk serve`, `helpdesk worker` and `helpdesk demo`: the HTTP API, the job queue's worker, and the
demo deployment from nothing."""

from __future__ import annotations

import socket

import click

from models.settings import get_settings
from triage.cli.content import db_upgrade, kb_import, tickets_import
from triage.cli.fields import set_fields
from triage.cli.keys import demo_keys
from triage.cli.sla import set_policy
from triage.cli.training import run_training

__all__ = ("demo", "serve", "worker")


@click.command()
@click.option("--host", default=None, help="Defaults to HELPDESK_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Defaults to HELPDESK_PORT (8000).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 256),
    help="Server processes; defaults to HELPDESK_WORKERS, else chosen from the cores, memory and encoder.",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API with uvicorn, in processes and threads chosen from the usable cores, the memory
    and the encoder (triage.work.layout) unless HELPDESK_WORKERS / HELPDESK_THREADS say otherwise. Each
    worker process loads its own encoder and bundle; one of them runs the background work (mailbox,
    webhook deliveries, periodic checks) unless the job queue does (HELPDESK_BACKGROUND=queue)."""
    import copy
    import dataclasses
    import os
    import tempfile

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from triage.work.layout import choose_layout
    from triage.work.queue import queue_enabled

    settings = get_settings()
    queue_enabled(settings)  # HELPDESK_BACKGROUND=queue on SQLite: one line naming the setting, not a traceback
    if workers:
        settings = dataclasses.replace(settings, api=dataclasses.replace(settings.api, workers=workers))
    layout = choose_layout(settings)
    click.echo(f"helpdesk serve: {layout.describe()}", err=True)
    # the workers read the layout from the environment: their thread pools' size, the rate-limit store
    os.environ["HELPDESK_WORKERS"], os.environ["HELPDESK_THREADS"] = str(layout.workers), str(layout.threads)
    host, port = host or settings.api.host, port or settings.api.port
    os.environ["HELPDESK_HOST"], os.environ["HELPDESK_PORT"] = host, str(port)  # the pages' default base URL
    # the app's formatters, named as the app is (the CLI does not import api): paths without query
    # strings in the access log, control characters escaped
    logging_config = copy.deepcopy(LOGGING_CONFIG)
    logging_config["formatters"]["default"]["()"] = "api.logs.SafeFormatter"
    logging_config["formatters"]["access"]["()"] = "api.logs.SafeAccessFormatter"
    app = "api.app:create_app_from_env"
    config = uvicorn.Config(app, factory=True, log_config=logging_config, host=host, port=port, workers=layout.workers)
    if layout.workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise SystemExit(3)  # uvicorn's exit status for a start that failed
        return
    from uvicorn.supervisors import Multiprocess

    with tempfile.TemporaryDirectory(prefix="helpdesk-serve-") as shared:
        os.environ["HELPDESK_WORKERS_DIR"] = shared  # the workers' background lock and rate-limit windows
        Multiprocess(config, sockets=[listening_socket(config)]).run()


def listening_socket(config) -> socket.socket:
    """The socket several uvicorn workers accept on, with its protocol named. uvicorn leaves it 0
    (uvicorn#3149), asyncio sets ``TCP_NODELAY`` on accepted connections only when the listener says TCP,
    and without it every keep-alive response after the first waited ~40 ms for the client's delayed ACK:
    measured, a lone suggestion took 64 ms with two workers against 18 ms with one."""
    sock = config.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


@click.command()
@click.option(
    "--concurrency", default=None, type=click.IntRange(1, 64), help="Jobs at once; HELPDESK_WORKER_CONCURRENCY (4)."
)
def worker(concurrency: int | None) -> None:
    """Run background work from the job queue (HELPDESK_BACKGROUND=queue, PostgreSQL): training and
    backfills, webhook deliveries and connector write-backs, the mailbox, incident and SLA checks. Run one
    or more beside `helpdesk serve`; SIGTERM lets jobs in progress finish, and a killed worker's jobs go to
    another."""
    import logging

    from triage.work.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(get_settings(), concurrency=concurrency)


@click.command()
@click.option("--serve/--no-serve", "then_serve", default=True, show_default=True)
@click.pass_context
def demo(ctx: click.Context, then_serve: bool) -> None:
    """Migrate, load the demo articles and tickets, train, then serve."""
    settings = get_settings()
    ctx.invoke(db_upgrade)
    ctx.invoke(kb_import, folder=settings.data_dir / "kb")
    ctx.invoke(set_fields, file=settings.data_dir / "fields.json")  # request_type beside the three built-in fields
    ctx.invoke(set_policy, file=settings.data_dir / "sla" / "policy.json")  # before the history: it is measured
    for file in sorted((settings.data_dir / "tickets").glob("*.jsonl")):
        ctx.invoke(tickets_import, file=file, mapping=())
    run_training(settings, promote=True)
    keys = demo_keys()
    click.echo("\nDemo API keys, one per role (shown once; `helpdesk keys create` makes more):")
    for role, secret in keys.items():
        click.echo(f"  export {role.upper()}_KEY={secret}")
    base = settings.api.base_url()
    click.echo(f"\nPages (once serving on {base}):")
    click.echo(f"  demo portal with the widget: {base}/demo/portal?key={keys['portal']}")
    click.echo(f"  agent console and analyst dashboard: {base}/signin (paste AGENT_KEY or ANALYST_KEY)")
    if then_serve:
        ctx.invoke(serve)
