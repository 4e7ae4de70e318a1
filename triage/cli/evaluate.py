"""`helpdesk evaluate` and `helpdesk evaluate-kb`: offline measurements on labelled files."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from models.settings import Settings, get_settings
from triage.cli.finetune import FineTuningAdapter
from triage.ml.encoders import MULTILINGUAL, configured_encoder

__all__ = ("evaluate", "evaluate_kb_command", "lazy_embedder")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="Map a field to a column.")
@click.option("--field", "fields", multiple=True, help="Field to evaluate (default: every mapped label field).")
@click.option("--test-file", type=click.Path(path_type=Path), help="Test on this file instead of a split.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
@click.option("--name", default=None, help="Report file name (default: the data file's stem).")
@click.option("--open-set-unknown", default=0, show_default=True, help="Labels to hold out for the open-set check.")
@click.option("--seed", default=42, show_default=True)
@click.option(
    "--finetune-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Fine-tune the encoder on the training rows first (at most this long) and evaluate with it.",
)
def evaluate(
    file: Path,
    mapping: tuple[str, ...],
    fields: tuple[str, ...],
    test_file: Path | None,
    out: Path,
    name: str | None,
    open_set_unknown: int,
    seed: int,
    finetune_minutes: float | None,
) -> None:
    """Evaluate triage on a labelled CSV/JSONL FILE beside baselines; write JSON and Markdown reports."""
    from triage.desk.ticket_import import IMPORT_FIELDS, LABEL_FIELDS, parse_mapping
    from triage.evaluation.classification import evaluate_file
    from triage.evaluation.report import write_report

    settings = get_settings()
    parsed = parse_mapping(mapping, (*IMPORT_FIELDS, *(f for f in fields if f not in IMPORT_FIELDS)))
    fields = fields or tuple(f for f in LABEL_FIELDS if f in parsed)
    adapt = FineTuningAdapter(settings, minutes=finetune_minutes) if finetune_minutes else None
    report = evaluate_file(
        file,
        parsed,
        fields,
        lazy_embedder(settings),
        test_path=test_file,
        seed=seed,
        min_examples=settings.models.min_examples_per_label,
        coverage=settings.models.coverage,
        target_precision=settings.models.target_precision,
        decision=settings.models.decision,
        open_set_unknown=open_set_unknown,
        adapt=adapt,
        progress=lambda message: click.echo(message, err=True),
    )
    if adapt is not None:
        report["encoder"] = adapt.encoder.describe()
    report["command"] = "helpdesk evaluate " + " ".join(sys.argv[2:])
    json_path, md_path = write_report(report, out, name or file.stem)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")


def lazy_embedder(settings: Settings) -> Callable[[list[str]], Any]:
    """An embedding function that loads the encoder on first use (so bad input is reported before the
    model loads) and goes through the deployment's embedding cache."""
    from triage.ml.embedding_cache import EmbeddingCache, encode_cached

    @functools.cache
    def cached_encoder() -> tuple:
        encoder = configured_encoder(settings)
        return encoder, EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)

    def embed(texts: list[str]):
        encoder, cache = cached_encoder()
        return encode_cached(encoder, texts, cache)

    return embed


@click.command("evaluate-kb")
@click.argument("kb_folder", type=click.Path(path_type=Path))
@click.argument("queries", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="text=COLUMN and article=COLUMN.")
@click.option("--remove", default=0, show_default=True, help="Articles to take out for the no-answer check.")
@click.option("--language", default=None, help="Search only the KB's articles in this language (ISO 639-1).")
@click.option(
    "--history",
    type=click.Path(path_type=Path),
    default=None,
    help="Earlier queries with the same columns: fit the nothing-fits model on their outcomes and judge it.",
)
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
@click.option("--name", default=None, help="Report file name (default: kb-<queries file stem>).")
@click.option("--seed", default=42, show_default=True)
def evaluate_kb_command(
    kb_folder: Path,
    queries: Path,
    mapping: tuple[str, ...],
    remove: int,
    language: str | None,
    history: Path | None,
    out: Path,
    name: str | None,
    seed: int,
) -> None:
    """Retrieval quality of a KB folder for a labelled query file: dense, BM25 and hybrid in one run."""
    from triage.desk.ticket_import import parse_mapping
    from triage.evaluation.kb import evaluate_kb
    from triage.evaluation.report import render_kb_markdown, write_report

    settings = get_settings()
    report = evaluate_kb(
        kb_folder,
        queries,
        parse_mapping(mapping, known=("text", "article")),
        lazy_embedder(settings),
        remove=remove,
        seed=seed,
        language=language,
        history=history,
        nothing_fits_probability=settings.models.kb_nothing_fits_probability,
        day_one_keep=settings.models.kb_day_one_keep,
        min_similarity=settings.models.kb_min_similarity,
        multilingual=settings.models.encoder in MULTILINGUAL,
        progress=lambda message: click.echo(message, err=True),
    )
    report["encoder"] = settings.models.encoder
    report["command"] = "helpdesk evaluate-kb " + " ".join(sys.argv[2:])
    json_path, md_path = write_report(report, out, name or f"kb-{queries.stem}", render=render_kb_markdown)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")
