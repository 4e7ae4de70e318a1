"""Property tests for the parsers that read user files: whatever comes in, the answer is a result or
one of our clear errors (a DomainError naming the field), never a crash; rendered HTML stays inert."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.parsing import parse_article
from kb.rendering import render_html, split_sections
from models import Ticket
from models.db import make_engine, make_session_factory, session_scope
from models.errors import DomainError
from models.migrate import upgrade
from triage.desk.ticket_import import import_tickets, read_rows

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
markdown = st.text(st.characters(codec="utf-8"), max_size=400) | st.lists(
    st.sampled_from(
        [
            "# H",
            "## Sub",
            "- item",
            "<script>alert(1)</script>",
            "[x](javascript:alert(1))",
            "`code`",
            "| a | b |\n|---|---|\n| 1 | 2 |",
            "\n\n",
            "text",
        ]
    ),
    max_size=12,
).map("\n".join)


@FUZZ
@given(st.text(max_size=500))
def test_any_text_is_an_article_or_a_clear_error(text):
    try:
        draft = parse_article(text, default_slug="fallback")
    except DomainError as error:
        assert error.field and error.detail
    else:
        assert draft.slug and draft.title


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["title", "slug", "tags", "language", "status", "other"]), values, max_size=6),
    markdown,
)
def test_any_front_matter_is_an_article_or_a_clear_error(meta, body):
    text = "---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n" + body
    try:
        draft = parse_article(text)
    except DomainError as error:
        assert error.field and error.field.startswith(("front_matter", "body", "slug", "title"))
    else:
        assert draft.slug and draft.title and draft.status in ("draft", "published", "archived")


@FUZZ
@given(markdown)
def test_rendered_markdown_is_inert_and_sections_split(text):
    html = render_html(text)
    assert "<script" not in html.lower() and 'href="javascript:' not in html.lower()
    for section in split_sections("Title", text):
        assert section.anchor and section.heading


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([".csv", ".jsonl"]))
def test_any_file_reads_as_rows_or_a_clear_error(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"tickets{suffix}"
        path.write_bytes(content)
        try:
            columns, rows = read_rows(path)
        except DomainError as error:
            assert error.field
        else:
            assert all(isinstance(row, dict) for row in rows) and isinstance(columns, list)


FIELDS = ["subject", "body", "category", "priority", "external_id", "created_at", "resolved_at", "status", "language"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), scalars, max_size=6), min_size=1, max_size=5))
def test_any_rows_import_whole_or_not_at_all(rows):
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/fuzz.db"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        path = Path(folder) / "tickets.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
        try:
            with session_scope(sessions) as session:
                counts = import_tickets(session, path)
        except DomainError as error:
            assert error.field
            with session_scope(sessions) as session:
                assert session.query(Ticket).count() == 0  # one bad row imports nothing
        else:
            with session_scope(sessions) as session:
                assert session.query(Ticket).count() == counts["created"]
        engine.dispose()
