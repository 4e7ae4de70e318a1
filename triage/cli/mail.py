"""``helpdesk mail``: poll the helpdesk mailbox once or keep watching it, and list what was not a ticket."""

from __future__ import annotations

import signal

import click
from sqlalchemy import select

from models import InboundMail
from models.db import session_scope
from models.settings import get_settings
from triage.cli.support import sessions

__all__ = ("mail_group",)


def _poller():
    from triage.channels.mail.service import standalone_poller
    from triage.ml.encoders import configured_encoder

    settings = get_settings()
    if not settings.mail.enabled:
        raise click.UsageError("no mailbox configured: set HELPDESK_MAIL_HOST, HELPDESK_MAIL_USER and _PASSWORD")
    encoder = configured_encoder(settings).load()
    return standalone_poller(settings, sessions(settings), encoder)


@click.group("mail")
def mail_group() -> None:
    """Inbound e-mail: every new mail in the mailbox becomes a ticket with suggestions (or a reply on one)."""


@mail_group.command("poll")
def poll_command() -> None:
    """Process the mail waiting now (one batch, HELPDESK_MAIL_BATCH) and print what became of it."""
    poller = _poller()
    total = 0
    while True:
        report = poller.poll_once()
        total += report.total
        for outcome, count in sorted(report.outcomes.items()):
            click.echo(f"{outcome}: {count}")
        if report.handled < poller.settings.batch:
            break
    click.echo(f"{total} mail(s) processed from {poller.settings.mailbox}")


@mail_group.command("watch")
def watch_command() -> None:
    """Keep polling (IDLE where the server offers it) until interrupted (Ctrl-C or SIGTERM)."""
    poller = _poller()
    signal.signal(signal.SIGTERM, lambda *_: poller.stop())
    click.echo(f"watching {poller.settings.mailbox}", err=True)
    try:
        poller.run()
    except KeyboardInterrupt:
        poller.stop()


@mail_group.command("rejected")
@click.option("--limit", default=50, show_default=True)
def rejected_command(limit: int) -> None:
    """Mail that did not become a ticket: quarantined (with the reason) or ignored (auto-generated)."""
    with session_scope(sessions(get_settings())) as session:
        query = (
            select(InboundMail)
            .where(InboundMail.outcome.in_(("quarantined", "ignored")))
            .order_by(InboundMail.id.desc())
            .limit(limit)
        )
        for row in session.scalars(query):
            sender = row.sender or "?"
            click.echo(
                f"{row.id}\t{row.created_at:%Y-%m-%d %H:%M}\t{row.outcome}\t{row.reason}\t{sender}\t{row.subject or ''}"
            )
