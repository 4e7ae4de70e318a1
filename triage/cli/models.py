"""``helpdesk models``: list bundle versions, gate, shadow-evaluate, promote, roll back, diff."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from models.db import session_scope
from models.settings import Settings, get_settings
from triage.cli.support import CLI_ACTOR, sessions
from triage.ml.encoders import configured_encoder

__all__ = ("models_group",)


def _echo(value: object) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _known(settings: Settings, version: str) -> None:
    """Fail fast (before loading the encoder) on a version the registry does not have."""
    from triage.bundles.promotion import find_version
    from triage.bundles.training import KIND

    with session_scope(sessions(settings)) as session:
        find_version(session, KIND, version)


@click.group("models")
def models_group() -> None:
    """Bundle versions: list, gate, promote, roll back, diff."""


@models_group.command("list")
def list_versions() -> None:
    """Every triage bundle, newest first, with its state and held-out accuracy."""
    from triage.bundles.registry import list_versions as versions
    from triage.bundles.training import KIND

    with session_scope(sessions(get_settings())) as session:
        rows = [
            {
                "version": row.version,
                "state": row.state,
                "created_at": row.created_at,
                "activated_at": row.activated_at,
                "rows": row.manifest.get("inputs", {}).get("tickets", {}).get("rows"),
                "holdout_accuracy": {
                    name: m.get("accuracy") for name, m in row.manifest.get("holdout", {}).get("metrics", {}).items()
                },
            }
            for row in versions(session, KIND)
        ]
    _echo(rows)


@models_group.command("gate")
@click.argument("version")
def gate_command(version: str) -> None:
    """What the promotion gate says about VERSION, without promoting it."""
    from triage.bundles.promotion import gate
    from triage.bundles.training import KIND

    settings = get_settings()
    models = settings.models
    _known(settings, version)
    with session_scope(sessions(settings)) as session:
        report = gate(
            session,
            KIND,
            version,
            configured_encoder(settings),
            models.artifacts_dir,
            tolerance=models.promotion_tolerance,
        )
    _echo(asdict(report))


@models_group.command("shadow")
@click.argument("version")
@click.option("--last", default=200, show_default=True, help="How many resolved tickets to replay.")
def shadow_command(version: str, last: int) -> None:
    """Replay the last resolved tickets through VERSION and the active bundle, and compare."""
    from triage.bundles.shadow import shadow_evaluate
    from triage.bundles.training import KIND

    settings = get_settings()
    _known(settings, version)
    with session_scope(sessions(settings)) as session:
        _echo(
            shadow_evaluate(
                session, KIND, version, configured_encoder(settings), settings.models.artifacts_dir, last=last
            )
        )


@models_group.command("promote")
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even when the metric gate fails (never on a library mismatch).")
def promote_command(version: str, force: bool) -> None:
    """Gate VERSION against the active bundle and make it active."""
    from triage.bundles.promotion import promote
    from triage.bundles.training import KIND

    settings = get_settings()
    models = settings.models
    _known(settings, version)
    with session_scope(sessions(settings)) as session:
        report = promote(
            session,
            KIND,
            version,
            configured_encoder(settings),
            models.artifacts_dir,
            tolerance=models.promotion_tolerance,
            force=force,
            actor=CLI_ACTOR,
        )
    _echo(asdict(report))
    forced = " (gate overridden with --force)" if not report.passed else ""
    click.echo(f"bundle {report.candidate} is active{forced}")


@models_group.command("rollback")
def rollback_command() -> None:
    """Re-activate the bundle that was active before the current one."""
    from triage.bundles.promotion import rollback
    from triage.bundles.training import KIND

    with session_scope(sessions(get_settings())) as session:
        row = rollback(session, KIND, actor=CLI_ACTOR)
        click.echo(f"bundle {row.version} is active again")


@models_group.command("diff")
@click.argument("old")
@click.argument("new")
def diff_command(old: str, new: str) -> None:
    """Metrics, label sets, training sets and libraries of NEW against OLD."""
    from triage.bundles.promotion import diff_versions
    from triage.bundles.training import KIND

    with session_scope(sessions(get_settings())) as session:
        _echo(diff_versions(session, KIND, old, new))
