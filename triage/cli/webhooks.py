"""``helpdesk webhooks``: subscribe URLs to events, read the delivery log, redeliver, send a test event,
and run the deliverer (``helpdesk serve`` runs one too; any number may run together)."""

from __future__ import annotations

import signal
import threading

import click
from sqlalchemy import func, select

from models.audit import record_audit
from models.base import utcnow
from models.db import session_scope
from models.outbox import DELIVERY_STATES, EVENT_TYPES, WebhookDelivery
from models.settings import get_settings
from triage.channels.webhooks.delivery import Deliverer
from triage.channels.webhooks.subscriptions import (
    create_subscription,
    delete_subscription,
    list_deliveries,
    list_subscriptions,
    redeliver,
    send_test_event,
)
from triage.cli.connectors import standalone_work
from triage.cli.support import CLI_ACTOR, sessions

__all__ = ("webhooks_group",)

SENT_BY = "sent by `helpdesk serve` or `helpdesk webhooks deliver`"


@click.group("webhooks")
def webhooks_group() -> None:
    """Outbound webhooks: subscriptions, their delivery log, redelivery, and the deliverer."""


@webhooks_group.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    default=("*",),
    show_default=True,
    help=f"An event type to send (repeat for more; * for all): {', '.join(EVENT_TYPES)}.",
)
@click.option("--description", default=None, help="What the endpoint is (shown in lists).")
@click.option("--secret", default=None, help="The signing secret (whsec_ + base64); made for you when left out.")
def add_command(url: str, events: tuple[str, ...], description: str | None, secret: str | None) -> None:
    """Subscribe URL to events. Prints its id and its signing secret (shown this once)."""
    settings = get_settings()
    with session_scope(sessions(settings)) as session:
        row = create_subscription(
            session,
            url=url,
            events=events,
            description=description,
            secret=secret,
            allow_networks=settings.webhooks.allow_networks,
        )
        record_audit(session, CLI_ACTOR, "webhook.created", f"webhook:{row.id}", events=row.event_types)
        click.echo(f"webhook {row.id} ({row.url}; {','.join(row.event_types)}): {row.secret}")


@webhooks_group.command("list")
def list_command() -> None:
    """List subscriptions. Id, state, URL, event types, description and creation time; never secrets."""
    with session_scope(sessions(get_settings())) as session:
        for row in list_subscriptions(session):
            state = "active" if row.active else f"disabled ({row.disabled_reason or 'paused'})"
            click.echo(
                f"{row.id}\t{state}\t{row.url}\t{','.join(row.event_types or [])}\t{row.description or ''}\t"
                f"created {row.created_at:%Y-%m-%d %H:%M}"
            )


@webhooks_group.command("remove")
@click.argument("webhook_id", type=int)
def remove_command(webhook_id: int) -> None:
    """Remove a subscription. WEBHOOK_ID goes with its delivery log."""
    with session_scope(sessions(get_settings())) as session:
        delete_subscription(session, webhook_id)
        record_audit(session, CLI_ACTOR, "webhook.deleted", f"webhook:{webhook_id}")
        click.echo(f"webhook {webhook_id} removed")


@webhooks_group.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--state", type=click.Choice(DELIVERY_STATES), default=None, help="Only deliveries in this state.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def deliveries_command(webhook_id: int, state: str | None, limit: int) -> None:
    """Show a subscription's delivery log. Newest first: delivery id, event type, webhook-id, subject,
    state, attempts and the last answer."""
    with session_scope(sessions(get_settings())) as session:
        rows, total = list_deliveries(session, webhook_id, state=state, limit=limit)
        for row, event in rows:
            last = row.last_error or (f"HTTP {row.last_status}" if row.last_status else "")
            click.echo(
                f"{row.id}\t{event.type}\t{event.event_id}\t{event.subject or '-'}\t{row.state}\t"
                f"{row.attempts} attempts\t{last}"
            )
        click.echo(f"{len(rows)} of {total} deliveries", err=True)


@webhooks_group.command("redeliver")
@click.argument("webhook_id", type=int)
@click.argument("delivery_id", type=int)
def redeliver_command(webhook_id: int, delivery_id: int) -> None:
    """Send a delivery again. Under the same webhook-id, whether it was delivered or gave up."""
    with session_scope(sessions(get_settings())) as session:
        row, event = redeliver(session, webhook_id, delivery_id)
        record_audit(session, CLI_ACTOR, "webhook.redelivered", f"webhook:{webhook_id}", delivery=row.id)
        click.echo(f"delivery {row.id} ({event.type} {event.event_id}) queued again; it is {SENT_BY}")


@webhooks_group.command("test")
@click.argument("webhook_id", type=int)
def test_command(webhook_id: int) -> None:
    """Queue a test event. A webhook.test event for WEBHOOK_ID alone."""
    with session_scope(sessions(get_settings())) as session:
        event = send_test_event(session, webhook_id)
        click.echo(f"{event.type} {event.event_id} queued for webhook {webhook_id}; it is {SENT_BY}")


@webhooks_group.command("deliver")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (a failed send waits for its retry).")
def deliver_command(once: bool) -> None:
    """Send the outbox's deliveries. Until Ctrl-C or SIGTERM, or with --once what is due now; connectors'
    queued work (their webhooks taken in, write-backs) is done here too."""
    settings = get_settings()
    factory = sessions(settings)
    deliverer = Deliverer(factory, settings.webhooks, handlers={"connector": standalone_work(settings, factory)})
    try:
        if once:
            started, attempted = utcnow(), 0
            while sent := deliverer.deliver_due(due_by=started):  # an event's successor follows it
                attempted += sent
            with session_scope(factory) as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(WebhookDelivery)
                    .where(WebhookDelivery.state.in_(("pending", "sending")))
                )
            click.echo(f"{attempted} attempted; {waiting} still waiting (for a retry or a lease)")
            return
        _run_until_stopped(deliverer, settings.webhooks.poll_seconds)
    finally:
        deliverer.close()


def _run_until_stopped(deliverer: Deliverer, poll_seconds: float) -> None:
    """Run ``deliverer`` on its thread until SIGINT or SIGTERM (the sends in flight finish first)."""
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"delivering webhooks (polling every {poll_seconds:g} s); Ctrl-C stops", err=True)
    deliverer.start()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("stopping: waiting for the sends in flight", err=True)
