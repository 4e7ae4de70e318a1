"""`helpdesk db`, `helpdesk kb` and `helpdesk tickets`: the schema, the articles and the ticket history."""

from __future__ import annotations

from pathlib import Path

import click

from models.audit import record_audit
from models.db import session_scope
from models.settings import get_settings
from triage.cli.support import CLI_ACTOR, bar, sessions
from triage.ml.encoders import configured_encoder

__all__ = ("db", "db_upgrade", "kb", "kb_import", "tickets", "tickets_import")


@click.group()
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


@click.group()
def kb() -> None:
    """Knowledge-base articles."""


@kb.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
def kb_import(folder: Path) -> None:
    """Import (create or update) every Markdown article under FOLDER."""
    from kb.importer import import_folder

    with session_scope(sessions(get_settings())) as session:
        counts = import_folder(session, folder, progress=bar("articles"))
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


@click.group()
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
    from models.fields import active_fields
    from triage.desk.ingest import ingest_tickets
    from triage.desk.ticket_import import IMPORT_FIELDS, parse_mapping, parse_tickets, store_tickets
    from triage.ml.embedding_cache import EmbeddingCache
    from triage.text.redaction import Redactor

    settings = get_settings()
    with session_scope(sessions(settings)) as session:
        fields = active_fields(session)
    known = (*IMPORT_FIELDS, *(f.name for f in fields if f.name not in IMPORT_FIELDS))
    parsed = parse_tickets(file, parse_mapping(mapping, known), fields)  # every row checked before the encoder loads
    if embed:
        encoder = configured_encoder(settings)
        cache = EmbeddingCache.in_artifacts(settings.models.artifacts_dir, encoder)
        redactor = Redactor(settings.models.redact_patterns)
        counts = ingest_tickets(sessions(settings), parsed, encoder, cache, redactor=redactor, progress=bar("tickets"))
    else:
        with session_scope(sessions(settings)) as session:
            counts = store_tickets(session, parsed, progress=bar("tickets"))
    embedded = f", {counts['embedded']} texts newly embedded" if embed else ""
    click.echo(f"{counts['created']} created, {counts['skipped']} already present{embedded}")


@kb.command("intent-articles")
@click.argument("file", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="text=COLUMN and intent=COLUMN.")
@click.option("--per-intent", default=5, show_default=True, help="Example texts per article.")
def kb_intent_articles(file: Path, out: Path, mapping: tuple[str, ...], per_intent: int) -> None:
    """Write one Markdown article per intent of a labelled FILE (a KB stand-in for measurements)."""
    from triage.desk.ticket_import import parse_mapping, read_rows, require_mapped
    from triage.evaluation.kb_folders import write_intent_articles

    parsed = parse_mapping(mapping, known=("text", "intent"))
    require_mapped(parsed, ("text", "intent"))
    _, rows = read_rows(file)
    pairs = [(str(r.get(parsed["text"]) or ""), str(r.get(parsed["intent"]) or "")) for r in rows]
    count = write_intent_articles([(t, i) for t, i in pairs if t.strip() and i.strip()], out, per_intent=per_intent)
    click.echo(f"{count} articles written to {out}")
