"""`helpdesk train` and `helpdesk suggest`: a candidate bundle from the ticket history, and what it suggests."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import click

from models.db import session_scope
from models.settings import Settings, get_settings
from triage.cli.support import CLI_ACTOR, TrainProgress, sessions
from triage.ml.encoders import configured_encoder

__all__ = ("run_training", "suggest", "train")


@click.command()
@click.option("--promote", is_flag=True, help="Run the promotion gate and make the new bundle active if it passes.")
@click.option("--force", is_flag=True, help="With --promote: activate even when the metric gate fails.")
@click.option("--since", type=click.DateTime(), default=None, help="Only tickets resolved at or after this time.")
@click.option("--until", type=click.DateTime(), default=None, help="Only tickets resolved before this time.")
@click.option(
    "--finetune-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="First fine-tune the encoder on the tickets and the KB for at most this long; the bundle carries it.",
)
def train(
    promote: bool, force: bool, since: datetime | None, until: datetime | None, finetune_minutes: float | None
) -> None:
    """Build a candidate bundle from resolved tickets (promote it with --promote), and embed the KB's
    passages so serving starts warm."""
    run_training(
        get_settings(),
        promote=promote,
        force=force,
        since=_utc(since),
        until=_utc(until),
        finetune_minutes=finetune_minutes,
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def run_training(
    settings: Settings,
    *,
    promote: bool,
    force: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
    finetune_minutes: float | None = None,
) -> None:
    """Train a candidate (and promote it through the gate), then warm the KB's embeddings for the encoder
    the active bundle embeds with."""
    from triage.bundles.adaptation import bundle_encoder
    from triage.bundles.retrain import retrain
    from triage.errors import GateFailed
    from triage.knowledge.kb_index import load_knowledge
    from triage.ml.embedding_cache import EmbeddingCache

    models = settings.models
    encoder = configured_encoder(settings)
    factory = sessions(settings)
    result = retrain(
        factory,
        encoder,
        models.artifacts_dir,
        promote=promote,
        force=force,
        tolerance=models.promotion_tolerance,
        min_examples=models.min_examples_per_label,
        decision=models.decision,
        since=since,
        until=until,
        redact_patterns=models.redact_patterns,
        ann_exact_limit=models.ann_exact_limit,
        finetune_minutes=finetune_minutes,
        progress=TrainProgress(),
        actor=CLI_ACTOR,
    )
    if result["promoted"]:
        encoder = bundle_encoder(Path(result["path"]), {"encoder": result["encoder"]}, encoder)
    with session_scope(factory) as session:
        knowledge = load_knowledge(session, encoder, EmbeddingCache.in_artifacts(models.artifacts_dir, encoder))
    click.echo(
        f"KB index: {len(knowledge.search.chunks)} sections of draft and published articles "
        f"({knowledge.encoded} passages newly embedded)"
    )
    click.echo(f"bundle {result['version']} written to {result['path']} as a candidate")
    click.echo(json.dumps({k: result[k] for k in ("training_set", "holdout", "gate")}, indent=2, default=str))
    for name, reason in result["classifiers_skipped"].items():
        click.echo(f"{name}: unavailable ({reason})")
    if promote and not result["promoted"]:
        raise GateFailed("; ".join(result["gate"]["reasons"]), field="version")
    if promote:
        click.echo(f"bundle {result['version']} is active")


@click.command()
@click.option("--subject", default="")
@click.option("--body", default="")
@click.option("--top-k", default=5, show_default=True)
def suggest(subject: str, body: str, top_k: int) -> None:
    """Print suggestions for a text from the active bundle, as JSON."""
    from triage.bundles.adaptation import bundle_encoder
    from triage.bundles.loading import load_bundle
    from triage.bundles.registry import get_active
    from triage.bundles.training import KIND
    from triage.desk.suggest import suggest as run_suggest
    from triage.knowledge.kb_index import load_knowledge
    from triage.ml.embedding_cache import EmbeddingCache

    settings = get_settings()
    with session_scope(sessions(settings)) as session:
        row = get_active(session, KIND)
        bundle = load_bundle(Path(row.path)) if row else None
        encoder = configured_encoder(settings)
        if bundle is not None:  # its own fine-tuned encoder, when it carries one
            encoder = bundle_encoder(bundle.path, bundle.manifest, encoder)
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        knowledge = load_knowledge(session, encoder, cache)
    result = run_suggest(bundle, knowledge.search, encoder, subject=subject, body=body, top_k=top_k)
    click.echo(json.dumps(asdict(result), indent=2, ensure_ascii=False))
