"""``helpdesk connectors``: connect a helpdesk (django-helpdesk, Zammad, Zendesk, Freshdesk), test its
credentials, backfill its resolved tickets, read what was received and written back, and remove it. The
queued work (intake of its webhooks, write-backs) is done by ``helpdesk serve`` or ``helpdesk webhooks
deliver``."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import TYPE_CHECKING

import click
from sqlalchemy.orm import Session, sessionmaker

from models.audit import record_audit
from models.db import session_scope
from models.outbox import DELIVERY_STATES
from models.settings import Settings, get_settings
from triage.channels.connectors.base import RemoteError
from triage.channels.connectors.kinds import KINDS
from triage.channels.connectors.registry import (
    build_connector,
    connector_out,
    create_connector,
    delete_connector,
    get_connector,
    list_connectors,
)
from triage.channels.webhooks.subscriptions import list_deliveries
from triage.cli.support import CLI_ACTOR, sessions
from triage.errors import InvalidQuery
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoders import configured_encoder
from triage.text.redaction import Redactor

if TYPE_CHECKING:  # the connectors' sync work imports the whole request pipeline: only commands that run it
    from triage.channels.connectors.sync import ConnectorWork

__all__ = ("connectors_group", "standalone_work")


def standalone_work(settings: Settings, factory: sessionmaker[Session]) -> ConnectorWork:
    """Connector work for a command-line deliverer: the bundle and KB index are loaded at the first ticket
    that needs suggestions (a deliverer with only webhooks to send never loads them)."""
    from triage.channels.connectors.sync import ConnectorWork, Desk
    from triage.channels.standalone import Standalone, load_standalone

    held: list[Standalone] = []
    lock = threading.Lock()

    def loaded() -> Standalone:
        with lock:
            if not held:
                held.append(load_standalone(settings, factory, configured_encoder(settings).load()))
            return held[0]

    desk = Desk(
        lambda subject, body: loaded().suggest(subject, body),
        lambda session, ticket_id: loaded().replies(session, ticket_id),
        settings.api.base_url(),
    )
    return ConnectorWork(factory, desk, timeout=settings.webhooks.timeout_seconds)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``key=value`` options as a dict; a value ``env:NAME`` is read from the environment (keeps secrets out
    of the shell history and the process list)."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidQuery(f"{option} takes key=value, not {item!r}", field=option.lstrip("-"))
        if value.startswith("env:"):
            name = value[4:]
            if name not in os.environ:
                raise InvalidQuery(f"{option} {key}: the environment has no {name}", field=option.lstrip("-"))
            value = os.environ[name]
        out[key] = value
    return out


def _mapping(values: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``field:theirs=ours`` options as a mapping per field."""
    out: dict[str, dict[str, str]] = {}
    for item in values:
        field, sep, pair = item.partition(":")
        theirs, sep2, ours = pair.partition("=")
        if not (sep and sep2 and field and theirs and ours):
            raise InvalidQuery(f"--map takes field:theirs=ours, not {item!r}", field="map")
        out.setdefault(field, {})[theirs] = ours
    return out


@click.group("connectors")
def connectors_group() -> None:
    """Helpdesk connectors: their webhooks in, triage written back, resolved tickets as training data."""


@connectors_group.command("add")
@click.argument("name")
@click.argument("kind", type=click.Choice(tuple(KINDS)))
@click.argument("base_url")
@click.option("--credential", "credentials", multiple=True, help="key=value (value env:NAME reads $NAME).")
@click.option("--option", "options", multiple=True, help="key=value, e.g. category_field=product.")
@click.option("--map", "mapping", multiple=True, help="field:theirs=ours, e.g. assignee:2=Network (repeat).")
@click.option("--write", "write_fields", multiple=True, help="A field we may set when confident (default: all).")
@click.option("--no-write", is_flag=True, help="Set no fields; only write the note.")
@click.option("--untriaged", multiple=True, help="field=value: their value meaning nobody chose (repeat).")
@click.option("--no-note", is_flag=True, help="Write no internal note.")
@click.option("--webhook-secret", default=None, help="The secret their webhooks are signed with (made if left out).")
def add_command(
    name: str,
    kind: str,
    base_url: str,
    credentials: tuple[str, ...],
    options: tuple[str, ...],
    mapping: tuple[str, ...],
    write_fields: tuple[str, ...],
    no_write: bool,
    untriaged: tuple[str, ...],
    no_note: bool,
    webhook_secret: str | None,
) -> None:
    """Connect a helpdesk. Prints the webhook path and secret to configure in it (the secret is shown
    this once)."""
    settings = get_settings()
    untriaged_values: dict[str, list[str]] = {}
    for field, value in (item.partition("=")[::2] for item in untriaged):
        untriaged_values.setdefault(field, []).append(value)
    with session_scope(sessions(settings)) as session:
        row = create_connector(
            session,
            name=name,
            kind=kind,
            base_url=base_url,
            credentials=_pairs(credentials, "--credential"),
            webhook_secret=webhook_secret,
            options=_pairs(options, "--option"),
            mapping=_mapping(mapping),
            write_fields=[] if no_write else (list(write_fields) or None),
            untriaged=untriaged_values,
            note=not no_note,
            allow_networks=settings.webhooks.allow_networks,
        )
        record_audit(session, CLI_ACTOR, "connector.created", f"connector:{row.name}", kind=row.kind)
        out = connector_out(row, secret=True)
    click.echo(f"connector {name} ({kind}) added; writes {', '.join(out['write_fields']) or 'no fields'}")
    click.echo(f"webhook URL: {settings.api.base_url().rstrip('/')}{out['events_path']}")
    click.echo(f"webhook secret: {out['webhook_secret']}")


@connectors_group.command("list")
def list_command() -> None:
    """List connectors. Name, kind, state, URL, fields written and backfill; never credentials."""
    with session_scope(sessions(get_settings())) as session:
        for row in list_connectors(session):
            out = connector_out(row)
            fill = out["backfill"]
            done = f"backfilled {fill.get('created', 0)}{' (finished)' if fill.get('finished') else ''}"
            state = "active" if row.active else "paused"
            click.echo(f"{row.name}\t{row.kind}\t{state}\t{row.base_url}\t{','.join(out['write_fields'])}\t{done}")


@connectors_group.command("show")
@click.argument("name")
def show_command(name: str) -> None:
    """Show one connector as JSON (no credentials or secret)."""
    with session_scope(sessions(get_settings())) as session:
        click.echo(json.dumps(connector_out(get_connector(session, name)), default=str, indent=2))


@connectors_group.command("test")
@click.argument("name")
def test_command(name: str) -> None:
    """Call the helpdesk with the stored credentials. Exit 1 when it fails."""
    settings = get_settings()
    with session_scope(sessions(settings)) as session:
        connector = build_connector(get_connector(session, name), timeout=settings.webhooks.timeout_seconds)
    try:
        click.echo(f"ok: {connector.whoami()}")
    except RemoteError as error:
        click.echo(f"failed: {error}", err=True)
        sys.exit(1)
    finally:
        connector.close()


@connectors_group.command("backfill")
@click.argument("name")
@click.option("--restart", is_flag=True, help="Start from the helpdesk's first resolved ticket again.")
@click.option("--pages", type=click.IntRange(1), default=None, help="Stop after this many pages.")
def backfill_command(name: str, restart: bool, pages: int | None) -> None:
    """Import the helpdesk's resolved tickets. From where the last backfill stopped; a ticket stored
    already is skipped, so it can be stopped and run again."""
    from triage.channels.connectors.backfill import backfill

    settings = get_settings()
    factory = sessions(settings)
    encoder = configured_encoder(settings).load()
    cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
    redactor = Redactor(settings.models.redact_patterns)

    def note(counts) -> None:
        click.echo(f"page {counts['pages']}: {counts['created']} new, {counts['skipped']} known", err=True)

    report = backfill(factory, name, encoder, cache, redactor=redactor, restart=restart, max_pages=pages, progress=note)
    with session_scope(factory) as session:
        record_audit(session, CLI_ACTOR, "connector.backfilled", f"connector:{name}", **report)
    click.echo(json.dumps(report))


@connectors_group.command("deliveries")
@click.argument("name")
@click.option("--state", type=click.Choice(DELIVERY_STATES), default=None, help="Only work in this state.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
def deliveries_command(name: str, state: str | None, limit: int) -> None:
    """Show the connector's queue. Newest first: id, what (received or write-back), the helpdesk's ticket,
    state, attempts and what was done or went wrong."""
    with session_scope(sessions(get_settings())) as session:
        row = get_connector(session, name)
        rows, total = list_deliveries(session, row.subscription_id, state=state, limit=limit, kind="connector")
        for delivery, event in rows:
            last = delivery.last_error or ((delivery.log or [{}])[-1].get("response") or "")
            click.echo(
                f"{delivery.id}\t{event.type}\t{event.payload.get('remote_id')}\t{delivery.state}\t"
                f"{delivery.attempts} attempts\t{last}"
            )
        click.echo(f"{len(rows)} of {total}", err=True)


@connectors_group.command("remove")
@click.argument("name")
def remove_command(name: str) -> None:
    """Disconnect a helpdesk. Its queue and logs go; the tickets it brought stay."""
    with session_scope(sessions(get_settings())) as session:
        delete_connector(session, name)
        record_audit(session, CLI_ACTOR, "connector.deleted", f"connector:{name}")
    click.echo(f"connector {name} removed")
