"""``helpdesk fields``: declare which ticket labels this deployment triages, and show them."""

from __future__ import annotations

import json
from pathlib import Path

import click

from models.audit import record_audit
from models.db import session_scope
from models.fields import active_fields, save_fields
from models.settings import get_settings
from triage.cli.support import CLI_ACTOR, read_json, sessions

__all__ = ("fields_group", "set_fields")


@click.group("fields")
def fields_group() -> None:
    """Triage fields: category, priority and assignee by default, and any labelled column you add."""


@fields_group.command("set")
@click.argument("file", type=click.Path(path_type=Path))
def set_fields(file: Path) -> None:
    """Declare the fields in FILE (JSON: {"fields": [{"name": ..., "source": ..., "labels": ...}]}); the
    next training picks them up. A bad declaration names the field at fault and saves nothing."""
    document = read_json(file)
    with session_scope(sessions(get_settings())) as session:
        row = save_fields(session, document, CLI_ACTOR.name)
        record_audit(session, CLI_ACTOR, "fields.saved", f"fields:{row.id}", fields=[f["name"] for f in row.fields])
        click.echo(f"fields version {row.id}: {', '.join(f['name'] for f in row.fields)}")


@fields_group.command("show")
def show_fields() -> None:
    """Print the fields in force."""
    with session_scope(sessions(get_settings())) as session:
        click.echo(json.dumps([spec.to_dict() for spec in active_fields(session)], indent=2))
