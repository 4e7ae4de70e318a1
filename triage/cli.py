"""The ``helpdesk`` command line: migrations, imports, training, serving and the demo."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from models.audit import record_audit
from models.db import session_scope
from models.errors import DomainError
from models.settings import Settings, get_settings
from triage.cli_assist import evaluate_duplicates_command, evaluate_replies_command
from triage.cli_bench import bench_command
from triage.cli_keys import demo_keys, keys_group
from triage.cli_models import models_group
from triage.cli_support import CLI_ACTOR, sessions
from triage.encoders import configured_encoder
from triage.threads import dump_stacks_on_signal

__all__ = ("main",)


def _bar(label: str):
    from tqdm import tqdm

    def wrap(items: Iterable) -> Iterable:
        return tqdm(items, desc=label, unit="row", file=sys.stderr, leave=False)

    return wrap


class _TrainProgress:
    """Feeds ``train_bundle`` progress callbacks into one tqdm bar per step."""

    def __init__(self) -> None:
        self.bars: dict = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(step)
        if bar is None:
            bar = self.bars[step] = tqdm(total=total, desc=step, file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()


class _Group(click.Group):
    """Turns domain errors into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            where = f" [{exc.field}]" if exc.field else ""
            click.echo(f"error{where}: {exc.detail}", err=True)
            ctx.exit(2)


@click.group(cls=_Group)
def main() -> None:
    """helpdesk-triage: AI triage and knowledge-base suggestions for helpdesks."""
    dump_stacks_on_signal()  # kill -USR1 <pid>: every thread's stack to stderr


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from models.migrate import upgrade

    upgrade(get_settings().database.url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.option("--revision", default="base", show_default=True)
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION."""
    from models.migrate import downgrade

    downgrade(get_settings().database.url, revision)
    click.echo(f"database at {revision}")


@main.group()
def kb() -> None:
    """Knowledge-base articles."""


@kb.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
def kb_import(folder: Path) -> None:
    """Import (create or update) every Markdown article under FOLDER."""
    from kb.importer import import_folder

    with session_scope(sessions(get_settings())) as session:
        counts = import_folder(session, folder, progress=_bar("articles"))
        record_audit(session, CLI_ACTOR, "article.imported", str(folder), counts=counts)
    click.echo(", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no articles found")


@kb.command("publish")
@click.argument("slug")
def kb_publish(slug: str) -> None:
    """Publish an article (servers pick the change up within HELPDESK_RELOAD_POLL_SECONDS)."""
    _kb_set_status(slug, "published")


@kb.command("archive")
@click.argument("slug")
def kb_archive(slug: str) -> None:
    """Archive an article: no longer suggested or found by search."""
    _kb_set_status(slug, "archived")


@kb.command("delete")
@click.argument("slug")
def kb_delete(slug: str) -> None:
    """Delete an article with all its revisions."""
    from kb.store import delete_article

    with session_scope(sessions(get_settings())) as session:
        delete_article(session, slug)
        record_audit(session, CLI_ACTOR, "article.deleted", f"article:{slug}")
    click.echo(f"{slug} deleted")


def _kb_set_status(slug: str, status: str) -> None:
    from kb.store import set_status

    with session_scope(sessions(get_settings())) as session:
        article = set_status(session, slug, status)
        record_audit(session, CLI_ACTOR, f"article.{status}", f"article:{slug}", revision=article.current_revision)
        click.echo(f"{article.slug} is {article.status} (revision {article.current_revision})")


@main.group()
def tickets() -> None:
    """Ticket history."""


@tickets.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="Map a ticket field to a column.")
@click.option(
    "--embed/--no-embed",
    default=True,
    show_default=True,
    help="Also encode the tickets into the embedding cache, while the rows are written.",
)
def tickets_import(file: Path, mapping: tuple[str, ...], embed: bool) -> None:
    """Import tickets from a CSV or JSONL FILE; labelled rows become resolved history."""
    from triage.embedding_cache import EmbeddingCache
    from triage.ingest import ingest_tickets
    from triage.redaction import Redactor
    from triage.ticket_import import parse_mapping, parse_tickets, store_tickets

    settings = get_settings()
    parsed = parse_tickets(file, parse_mapping(mapping))  # every row is checked before the encoder loads
    if embed:
        encoder = configured_encoder(settings)
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        redactor = Redactor(settings.models.redact_patterns)
        counts = ingest_tickets(sessions(settings), parsed, encoder, cache, redactor=redactor, progress=_bar("tickets"))
    else:
        with session_scope(sessions(settings)) as session:
            counts = store_tickets(session, parsed, progress=_bar("tickets"))
    embedded = f", {counts['embedded']} texts newly embedded" if embed else ""
    click.echo(f"{counts['created']} created, {counts['skipped']} already present{embedded}")


@main.command()
@click.option("--promote", is_flag=True, help="Run the promotion gate and make the new bundle active if it passes.")
@click.option("--force", is_flag=True, help="With --promote: activate even when the metric gate fails.")
@click.option("--since", type=click.DateTime(), default=None, help="Only tickets resolved at or after this time.")
@click.option("--until", type=click.DateTime(), default=None, help="Only tickets resolved before this time.")
def train(promote: bool, force: bool, since: datetime | None, until: datetime | None) -> None:
    """Build a candidate bundle from resolved tickets (promote it with --promote), and embed the KB's
    passages so serving starts warm."""
    _train(get_settings(), promote=promote, force=force, since=_utc(since), until=_utc(until))


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _train(
    settings: Settings,
    *,
    promote: bool,
    force: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """Train a candidate (and promote it through the gate), then warm the KB's embeddings."""
    from triage.embedding_cache import EmbeddingCache
    from triage.errors import GateFailed
    from triage.knowledge import load_knowledge
    from triage.retrain import retrain

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
        since=since,
        until=until,
        redact_patterns=models.redact_patterns,
        ann_exact_limit=models.ann_exact_limit,
        progress=_TrainProgress(),
        actor=CLI_ACTOR,
    )
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


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="Map a field to a column.")
@click.option("--field", "fields", multiple=True, help="Field to evaluate (default: every mapped label field).")
@click.option("--test-file", type=click.Path(path_type=Path), help="Test on this file instead of a split.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("var/reports"), show_default=True)
@click.option("--name", default=None, help="Report file name (default: the data file's stem).")
@click.option("--open-set-unknown", default=0, show_default=True, help="Labels to hold out for the open-set check.")
@click.option("--seed", default=42, show_default=True)
def evaluate(
    file: Path,
    mapping: tuple[str, ...],
    fields: tuple[str, ...],
    test_file: Path | None,
    out: Path,
    name: str | None,
    open_set_unknown: int,
    seed: int,
) -> None:
    """Evaluate triage on a labelled CSV/JSONL FILE beside baselines; write JSON and Markdown reports."""
    from triage.evaluation import evaluate_file
    from triage.report import write_report
    from triage.ticket_import import LABEL_FIELDS, parse_mapping

    settings = get_settings()
    parsed = parse_mapping(mapping)
    fields = fields or tuple(f for f in LABEL_FIELDS if f in parsed)
    report = evaluate_file(
        file,
        parsed,
        fields,
        _lazy_embedder(settings),
        test_path=test_file,
        seed=seed,
        min_examples=settings.models.min_examples_per_label,
        coverage=settings.models.coverage,
        target_precision=settings.models.target_precision,
        open_set_unknown=open_set_unknown,
        progress=lambda message: click.echo(message, err=True),
    )
    report["command"] = "helpdesk evaluate " + " ".join(sys.argv[2:])
    json_path, md_path = write_report(report, out, name or file.stem)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")


def _lazy_embedder(settings: Settings) -> Callable[[list[str]], Any]:
    """An embedding function that loads the encoder on first use (so bad input is reported before the
    model loads) and goes through the deployment's embedding cache."""
    from triage.embedding_cache import EmbeddingCache, encode_cached

    @functools.cache
    def cached_encoder() -> tuple:
        encoder = configured_encoder(settings)
        return encoder, EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)

    def embed(texts: list[str]):
        encoder, cache = cached_encoder()
        return encode_cached(encoder, texts, cache)

    return embed


@main.command("evaluate-kb")
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
    from triage.kb_evaluation import evaluate_kb
    from triage.report import render_kb_markdown, write_report
    from triage.ticket_import import parse_mapping

    settings = get_settings()
    report = evaluate_kb(
        kb_folder,
        queries,
        parse_mapping(mapping, known=("text", "article")),
        _lazy_embedder(settings),
        remove=remove,
        seed=seed,
        language=language,
        history=history,
        nothing_fits_probability=settings.models.kb_nothing_fits_probability,
        progress=lambda message: click.echo(message, err=True),
    )
    report["encoder"] = settings.models.encoder
    report["command"] = "helpdesk evaluate-kb " + " ".join(sys.argv[2:])
    json_path, md_path = write_report(report, out, name or f"kb-{queries.stem}", render=render_kb_markdown)
    click.echo(md_path.read_text(encoding="utf-8"))
    click.echo(f"written {json_path} and {md_path}")


@kb.command("intent-articles")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="text=COLUMN and intent=COLUMN.")
@click.option("--per-intent", default=5, show_default=True, help="Example texts per article.")
def kb_intent_articles(file: Path, out: Path, mapping: tuple[str, ...], per_intent: int) -> None:
    """Write one Markdown article per intent of a labelled FILE (a KB stand-in for measurements)."""
    from triage.kb_evaluation import write_intent_articles
    from triage.ticket_import import parse_mapping, read_rows, require_mapped

    parsed = parse_mapping(mapping, known=("text", "intent"))
    require_mapped(parsed, ("text", "intent"))
    _, rows = read_rows(file)
    pairs = [(str(r.get(parsed["text"]) or ""), str(r.get(parsed["intent"]) or "")) for r in rows]
    count = write_intent_articles([(t, i) for t, i in pairs if t.strip() and i.strip()], out, per_intent=per_intent)
    click.echo(f"{count} articles written to {out}")


@main.command()
@click.option("--subject", default="")
@click.option("--body", default="")
@click.option("--top-k", default=5, show_default=True)
def suggest(subject: str, body: str, top_k: int) -> None:
    """Print suggestions for a text from the active bundle, as JSON."""
    from triage.embedding_cache import EmbeddingCache
    from triage.knowledge import load_knowledge
    from triage.loading import load_bundle
    from triage.registry import get_active
    from triage.suggest import suggest as run_suggest
    from triage.training import KIND

    settings = get_settings()
    with session_scope(sessions(settings)) as session:
        row = get_active(session, KIND)
        bundle = load_bundle(Path(row.path)) if row else None
        encoder = configured_encoder(settings)
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        knowledge = load_knowledge(session, encoder, cache)
    result = run_suggest(bundle, knowledge.search, encoder, subject=subject, body=body, top_k=top_k)
    click.echo(json.dumps(asdict(result), indent=2, ensure_ascii=False))


@main.command()
@click.option("--host", default=None, help="Defaults to HELPDESK_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Defaults to HELPDESK_PORT (8000).")
@click.option("--workers", default=None, type=int, help="Server processes; defaults to HELPDESK_WORKERS (1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the HTTP API with uvicorn. Each worker process loads its own encoder and bundle and pins
    its threads to HELPDESK_THREADS (default: the cores shared among the workers)."""
    import copy
    import os

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    settings = get_settings()
    workers = workers or settings.api.workers
    os.environ["HELPDESK_WORKERS"] = str(workers)  # the workers read their share of the cores from it
    host, port = host or settings.api.host, port or settings.api.port
    os.environ["HELPDESK_HOST"], os.environ["HELPDESK_PORT"] = host, str(port)  # the pages' default base URL
    # the app's formatters, named as the app is (the CLI does not import api): paths without query
    # strings in the access log, control characters escaped
    logging_config = copy.deepcopy(LOGGING_CONFIG)
    logging_config["formatters"]["default"]["()"] = "api.logs.SafeFormatter"
    logging_config["formatters"]["access"]["()"] = "api.logs.SafeAccessFormatter"
    uvicorn.run(
        "api.app:create_app_from_env",
        factory=True,
        log_config=logging_config,
        host=host,
        port=port,
        workers=workers,
    )


@main.command()
@click.option("--serve/--no-serve", "then_serve", default=True, show_default=True)
@click.pass_context
def demo(ctx: click.Context, then_serve: bool) -> None:
    """Migrate, load the demo articles and tickets, train, then serve."""
    settings = get_settings()
    ctx.invoke(db_upgrade)
    ctx.invoke(kb_import, folder=settings.data_dir / "kb")
    for file in sorted((settings.data_dir / "tickets").glob("*.jsonl")):
        ctx.invoke(tickets_import, file=file, mapping=())
    _train(settings, promote=True)
    keys = demo_keys()
    click.echo("\nDemo API keys, one per role (shown once; `helpdesk keys create` makes more):")
    for role, secret in keys.items():
        click.echo(f"  export {role.upper()}_KEY={secret}")
    base = settings.api.base_url()
    click.echo(f"\nPages (once serving on {base}):")
    click.echo(f"  demo portal with the widget: {base}/demo/portal?key={keys['portal']}")
    click.echo(f"  agent console and analyst dashboard: {base}/signin (paste AGENT_KEY or ANALYST_KEY)")
    if then_serve:
        ctx.invoke(serve)


main.add_command(models_group)
main.add_command(keys_group)
main.add_command(evaluate_duplicates_command)
main.add_command(evaluate_replies_command)
main.add_command(bench_command)

if __name__ == "__main__":  # pragma: no cover
    main()
