"""Import a folder of Markdown articles: parse everything first, then write in one transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.orm import Session

from kb.errors import ArticleTooLarge, InvalidArticle
from kb.parsing import ArticleDraft, parse_article
from kb.store import upsert_article

__all__ = ("import_folder", "read_folder")


def read_folder(folder: Path) -> list[ArticleDraft]:
    """Parse every ``*.md`` file under ``folder``; the error names the file and the field at fault."""
    if not folder.is_dir():
        raise InvalidArticle(f"{folder} is not a folder", field="path")
    drafts: list[ArticleDraft] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.rglob("*.md")):
        try:
            draft = parse_article(path.read_text(encoding="utf-8"), default_slug=path.stem)
        except (InvalidArticle, ArticleTooLarge) as exc:
            raise InvalidArticle(f"{path.name}: {exc.detail}", field=f"{path.name}:{exc.field}") from exc
        except UnicodeDecodeError as exc:
            raise InvalidArticle(f"{path.name}: not UTF-8 text", field=path.name) from exc
        if draft.slug in seen:
            raise InvalidArticle(
                f"{path.name}: slug {draft.slug!r} is also used by {seen[draft.slug].name}",
                field=f"{path.name}:front_matter.slug",
            )
        seen[draft.slug] = path
        drafts.append(draft)
    return drafts


def import_folder(session: Session, folder: Path, *, progress: Callable[[Iterable], Iterable] = iter) -> Counter[str]:
    """Upsert all articles of ``folder``; returns counts of created/updated/unchanged.

    Nothing is written if any file is invalid; the caller's transaction holds all writes.
    """
    drafts = read_folder(folder)
    counts: Counter[str] = Counter()
    for draft in progress(drafts):
        counts[upsert_article(session, draft).action] += 1
    return counts
