"""``helpdesk evaluate-duplicates`` and ``helpdesk evaluate-replies``: agent assist, measured."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from models.db import session_scope
from models.settings import get_settings
from triage.cli.support import sessions
from triage.ml.encoders import configured_encoder

__all__ = ("evaluate_duplicates_command", "evaluate_replies_command")


def _write(report: dict, out: Path, name: str) -> None:
    from triage.evaluation.assist import render_assist_markdown
    from triage.evaluation.report import write_report

    report["command"] = "helpdesk " + " ".join(sys.argv[1:])
    json_path, md_path = write_report(report, out, name, render=render_assist_markdown)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")


@click.command("evaluate-duplicates")
@click.argument("queries", type=click.Path(path_type=Path))
@click.argument("history", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="text=COLUMN and group=COLUMN.")
@click.option("--queries", "n_queries", default=500, show_default=True, help="How many queries to sample.")
@click.option("--seed", default=42, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def evaluate_duplicates_command(
    queries: Path, history: Path, mapping: tuple[str, ...], n_queries: int, seed: int, out: Path
) -> None:
    """Duplicate detection: QUERIES against HISTORY, where a history row of the same group is a duplicate."""
    from triage.desk.ticket_import import parse_mapping, read_rows, require_mapped
    from triage.evaluation.assist import evaluate_duplicates
    from triage.ml.embedding_cache import EmbeddingCache

    parsed = parse_mapping(mapping, known=("text", "group"))
    require_mapped(parsed, ("text", "group"))

    def pairs(path: Path) -> list[tuple[str, str]]:
        rows = read_rows(path)[1]
        found = [(str(r.get(parsed["text"]) or ""), str(r.get(parsed["group"]) or "")) for r in rows]
        return [(t, g) for t, g in found if t.strip() and g.strip()]

    settings = get_settings()
    encoder = configured_encoder(settings)
    cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
    report = evaluate_duplicates(pairs(queries), pairs(history), encoder, cache, n_queries=n_queries, seed=seed)
    _write({"title": "Duplicate detection", "encoder": encoder.name, **report}, out, f"duplicates-{queries.stem}")


@click.command("evaluate-replies")
@click.option("--holdout", default=0.2, show_default=True, help="The newest share of resolved tickets to judge.")
@click.option("--top-k", default=3, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
def evaluate_replies_command(holdout: float, top_k: int, out: Path) -> None:
    """Reply recommendation on this deployment's resolved tickets: how often the top replies include the
    resolution of a ticket with the same category."""
    from triage.evaluation.assist import evaluate_replies
    from triage.knowledge.kb_index import load_knowledge
    from triage.ml.embedding_cache import EmbeddingCache

    settings = get_settings()
    encoder = configured_encoder(settings)
    cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
    with session_scope(sessions(settings)) as session:
        knowledge = load_knowledge(session, encoder, cache).search
        report = evaluate_replies(
            session,
            encoder,
            cache,
            knowledge,
            holdout=holdout,
            top_k=top_k,
            min_similarity=settings.assist.min_similarity,
        )
    _write({"title": "Reply recommendation", "encoder": encoder.name, **report}, out, "replies")
