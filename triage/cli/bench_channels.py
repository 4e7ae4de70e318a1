"""``helpdesk bench-channels``: mail through the IMAP poller and webhook delivery latency, measured on a
scratch deployment (the demo KB and tickets, a bundle trained on them) and the mailbox HELPDESK_MAIL_*
names (a test mailbox: the command fills it)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import click

__all__ = ("bench_channels_command",)


def _render(report: dict[str, Any]) -> str:
    lines = ["# helpdesk bench-channels", "", f"Command: `{report['command']}`", "", "| measure | value |", "|---|---|"]
    for key, value in report["summary"].items():
        lines.append(f"| {key} | {value} |")
    return "\n".join(lines) + "\n"


@click.command("bench-channels")
@click.option("--var", type=click.Path(path_type=Path), default=Path("var/bench-channels"), show_default=True)
@click.option("--messages", "n_messages", default=200, show_default=True, help="Mails through the poller.")
@click.option("--events", "n_events", default=200, show_default=True, help="Webhook events delivered.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def bench_channels_command(var: Path, n_messages: int, n_events: int, out: Path) -> None:
    """Measure the channels on a scratch deployment under VAR."""
    import shutil

    from models.migrate import upgrade
    from models.settings import Settings
    from triage.channels.mail.service import standalone_poller
    from triage.cli.support import sessions
    from triage.evaluation.bench import demo_deployment, scratch_env
    from triage.evaluation.bench_channels import mail_messages, mail_throughput, webhook_latency
    from triage.evaluation.report import write_report
    from triage.ml.encoders import configured_encoder

    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    settings = Settings.from_env(scratch_env(var.resolve()))
    if not settings.mail.enabled:
        raise click.UsageError("set HELPDESK_MAIL_HOST, _PORT, _SECURITY, _USER and _PASSWORD to a test mailbox")
    upgrade(settings.database.url)
    factory = sessions(settings)
    encoder = configured_encoder(settings).load()
    rows = demo_deployment(settings, factory, encoder)
    report: dict[str, Any] = {"encoder": encoder.name, "threads": settings.threads_per_worker()}

    report["webhooks"] = webhook_latency(factory, n_events)
    click.echo(f"webhooks: {report['webhooks']}", err=True)

    rng = random.Random(7)
    sample = [rng.choice(rows) for _ in range(n_messages)]
    texts = [(f"user{n}@bench.example", r["subject"], r["body"]) for n, r in enumerate(sample)]
    poller = standalone_poller(settings, factory, encoder)
    report["mail"] = mail_throughput(
        settings, poller, encoder, mail_messages(texts), [f"{s}\n{b}" for _, s, b in texts]
    )
    click.echo(f"mail: {report['mail']}", err=True)
    report["summary"] = {
        "encoder": report["encoder"],
        "mail through the poller with suggestions (per second)": report["mail"]["poller_per_second"],
        "encoder alone on the same texts, one at a time (per second)": report["mail"]["encoder_alone_per_second"],
        "encoder alone, in the poller's batches of 16 (per second)": report["mail"]["encoder_alone_batched_per_second"],
        "poller / encoder alone one at a time": report["mail"]["poller_to_encoder"],
        "poller / encoder alone in batches": report["mail"]["poller_to_encoder_batched"],
        **{f"poller ms per mail: {k}": v for k, v in report["mail"]["ms_per_mail"].items()},
        "webhook commit to verified receipt p50 (ms)": report["webhooks"]["p50"],
        "webhook commit to verified receipt p95 (ms)": report["webhooks"]["p95"],
        "webhook events delivered / sent": f"{report['webhooks']['delivered']} / {report['webhooks']['events']}",
    }
    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    json_path, md_path = write_report(report, out, "bench-channels", render=_render)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")
