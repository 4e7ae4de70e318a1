"""``helpdesk sla``: save and show the SLA policy, list open tickets by SLA state, report attainment; and
``helpdesk evaluate-sla``: replay a history to judge the time-to-resolution estimate and breach warning."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from models.audit import record_audit
from models.db import session_scope
from models.settings import get_settings
from triage.cli.evaluate import lazy_embedder
from triage.cli.support import CLI_ACTOR, read_json, sessions
from triage.errors import InvalidInput

__all__ = ("evaluate_sla_command", "sla_group")


@click.group("sla")
def sla_group() -> None:
    """Service levels: the policy (calendar and targets), open tickets by state, attainment."""


@sla_group.command("set-policy")
@click.argument("file", type=click.Path(path_type=Path))
def set_policy(file: Path) -> None:
    """Save the policy in FILE (JSON) as the new version: open tickets are re-targeted, and tickets
    without a clock (history imported earlier) get one."""
    from triage.sla.store import save_policy

    document = read_json(file)
    with session_scope(sessions(get_settings())) as session:
        version = save_policy(session, document, CLI_ACTOR.name)
        record_audit(session, CLI_ACTOR, "sla.policy_saved", f"sla_policy:{version.id}")
        click.echo(f"SLA policy version {version.id} saved")


@sla_group.command("show")
def show_policy() -> None:
    """Print the policy in force."""
    from triage.sla.store import active_policy

    with session_scope(sessions(get_settings())) as session:
        active = active_policy(session)
        if active is None:
            raise InvalidInput("no SLA policy has been saved yet: helpdesk sla set-policy FILE", field="policy")
        click.echo(json.dumps({"version": active[0].id, **active[0].document}, indent=2))


@sla_group.command("tickets")
@click.option("--state", type=click.Choice(("at_risk", "breached", "on_track", "paused")), default=None)
@click.option("--limit", default=50, show_default=True)
def sla_tickets(state: str | None, limit: int) -> None:
    """Open tickets with their SLA state, the soonest resolution due first (sends due sla.* events)."""
    from triage.sla.watch import list_sla_tickets

    with session_scope(sessions(get_settings())) as session:
        items, total = list_sla_tickets(session, state, limit=limit)
        for item in items:
            sla = item["sla"]
            due = sla["resolution_due"].isoformat(timespec="minutes") if sla["resolution_due"] else "paused"
            risk = f"{sla['breach_probability']:.0%}" if sla["breach_probability"] is not None else "-"
            click.echo(f"#{item['id']:<6} {sla['state']:<9} due {due:<25} risk {risk:>4}  {item['subject'][:60]}")
        click.echo(f"{total} tickets")


@sla_group.command("report")
@click.option("--weeks", default=12, show_default=True)
def sla_report(weeks: int) -> None:
    """SLA attainment per priority over the last weeks, and per priority and week."""
    from triage.sla.watch import attainment

    with session_scope(sessions(get_settings())) as session:
        report = attainment(session, weeks)
    click.echo("| priority | met | tickets | attainment |\n|---|---|---|---|")
    for row in report["by_priority"]:
        click.echo(f"| {row['priority']} | {row['met']} | {row['tickets']} | {row['attainment']:.1%} |")
    click.echo("\n| week | priority | met | tickets | attainment |\n|---|---|---|---|---|")
    for row in report["rows"]:
        click.echo(f"| {row['week']} | {row['priority']} | {row['met']} | {row['tickets']} | {row['attainment']:.1%} |")


def _database_history() -> list[dict[str, Any]]:
    from sqlalchemy import select

    from models import Ticket

    columns = ("subject", "body", "priority", "category", "requester", "created_at", "resolved_at")
    with session_scope(sessions(get_settings())) as session:
        query = select(Ticket).where(Ticket.resolved_at.is_not(None), Ticket.erased_at.is_(None))
        return [{c: getattr(t, c) for c in columns} for t in session.scalars(query)]


@click.command("evaluate-sla")
@click.option("--tickets", "file", type=click.Path(path_type=Path), default=None, help="Replay this export.")
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="Map a ticket field to a column.")
@click.option("--policy", type=click.Path(path_type=Path), default=None, help="Policy JSON (default: in force).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
@click.option("--name", default="sla", show_default=True, help="Report file name.")
def evaluate_sla_command(
    file: Path | None, mapping: tuple[str, ...], policy: Path | None, out: Path, name: str
) -> None:
    """Replay resolved tickets (the database's, or an export's) under the SLA policy: the
    time-to-resolution estimate against a per-priority baseline, and the breach warning."""
    from triage.desk.ticket_import import parse_mapping, parse_tickets
    from triage.evaluation.report import write_report
    from triage.evaluation.sla import evaluate_sla, render_sla_markdown
    from triage.sla.policy import parse_policy
    from triage.sla.store import active_policy

    settings = get_settings()
    if policy is not None:
        parsed = parse_policy(read_json(policy))
    else:
        with session_scope(sessions(settings)) as session:
            active = active_policy(session)
        if active is None:
            raise InvalidInput("no SLA policy is saved: give --policy FILE", field="policy")
        parsed = active[1]
    history = parse_tickets(file, parse_mapping(mapping) if mapping else None) if file else _database_history()
    report = evaluate_sla(history, parsed, lazy_embedder(settings))
    report["source"] = str(file) if file else "the database's resolved tickets"
    report["command"] = "helpdesk evaluate-sla " + " ".join(sys.argv[2:])
    json_path, md_path = write_report(report, out, name, render=render_sla_markdown)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")
