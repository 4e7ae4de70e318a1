"""The ``helpdesk`` command line: one module per command group, each building its own click commands;
``main`` adds them. May import anything in ``triage`` and below, never ``api`` (``serve`` names the app to
uvicorn by string)."""

from __future__ import annotations

import click

from models.env_values import InvalidSetting
from models.errors import DomainError
from triage.cli.assist import evaluate_duplicates_command, evaluate_replies_command
from triage.cli.bench import bench_command
from triage.cli.bench_channels import bench_channels_command
from triage.cli.bench_connectors import bench_connectors_command
from triage.cli.bench_replicas import bench_replicas_command
from triage.cli.connectors import connectors_group
from triage.cli.content import db, kb, tickets
from triage.cli.evaluate import evaluate, evaluate_kb_command
from triage.cli.fields import fields_group
from triage.cli.finetune import finetune_command
from triage.cli.keys import keys_group
from triage.cli.mail import mail_group
from triage.cli.models import models_group
from triage.cli.serving import demo, serve, worker
from triage.cli.sla import evaluate_sla_command, sla_group
from triage.cli.training import suggest, train
from triage.cli.webhooks import webhooks_group
from triage.ml.threads import dump_stacks_on_signal

__all__ = ("main",)


class _Group(click.Group):
    """Turns domain errors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            named = isinstance(exc, InvalidSetting)  # its detail starts with the variable's name
            where = f" [{exc.field}]" if exc.field and not named else ""
            click.echo(f"error{where}: {exc.detail}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """helpdesk-triage: AI triage and knowledge-base suggestions for helpdesks."""
    dump_stacks_on_signal()  # kill -USR1 <pid>: every thread's stack to stderr


for command in (db, kb, tickets, train, suggest, evaluate, evaluate_kb_command, serve, demo, models_group, keys_group):
    main.add_command(command)
for command in (evaluate_duplicates_command, evaluate_replies_command, bench_command, bench_channels_command):
    main.add_command(command)
for command in (mail_group, webhooks_group, connectors_group, bench_connectors_command, finetune_command):
    main.add_command(command)
for command in (sla_group, evaluate_sla_command, fields_group, worker, bench_replicas_command):
    main.add_command(command)
