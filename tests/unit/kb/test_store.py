from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb.errors import ArticleExists, ArticleNotFound, InvalidArticle
from kb.importer import import_folder
from kb.parsing import validate_draft
from kb.store import create_article, get_article, update_article
from models import Article, ArticleRevision
from models.db import session_scope

DEMO_KB = Path(__file__).resolve().parents[3] / "data" / "kb"


def _write(folder: Path, slug: str, body: str, title: str = "Title") -> None:
    (folder / f"{slug}.md").write_text(f"---\ntitle: {title}\nslug: {slug}\nstatus: published\n---\n{body}\n")


def test_edit_makes_a_new_revision_and_rechunks(sessions):
    with session_scope(sessions) as session:
        create_article(session, validate_draft(slug="a", title="A", body="## One\nfirst", status="published"))
    with session_scope(sessions) as session:
        article = update_article(session, "a", validate_draft(slug="a", title="A", body="## Two\nsecond"))
        assert article.current_revision == 2
        assert [c.heading for c in article.chunks] == ["Two"]
    with session_scope(sessions) as session:
        article = get_article(session, "a")
        assert [r.number for r in article.revisions] == [1, 2]
        assert article.revisions[0].body_markdown.startswith("## One")


def test_duplicate_slug_and_unknown_slug(sessions):
    draft = validate_draft(slug="a", title="A", body="text")
    with session_scope(sessions) as session:
        create_article(session, draft)
    with pytest.raises(ArticleExists), session_scope(sessions) as session:
        create_article(session, draft)
    with pytest.raises(ArticleNotFound), session_scope(sessions) as session:
        get_article(session, "missing")


def test_import_demo_folder_then_reimport_changes_nothing(sessions):
    with session_scope(sessions) as session:
        first = import_folder(session, DEMO_KB)
    assert first["created"] >= 30
    with session_scope(sessions) as session:
        second = import_folder(session, DEMO_KB)
        assert second == {"unchanged": first["created"]}
        assert session.scalar(select(func.count()).select_from(ArticleRevision)) == first["created"]


def test_a_bad_file_imports_nothing(sessions, tmp_path: Path):
    _write(tmp_path, "good-one", "## Hello\nworld")
    (tmp_path / "broken.md").write_text("---\ntitle: [oops\n---\nbody\n")
    with pytest.raises(InvalidArticle) as info, session_scope(sessions) as session:
        import_folder(session, tmp_path)
    assert info.value.field == "broken.md:front_matter"
    with session_scope(sessions) as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0
