"""Parse Markdown files with YAML front matter into validated article drafts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import frontmatter
import yaml

from kb.errors import ArticleTooLarge, InvalidArticle

__all__ = ("ARTICLE_STATUSES", "ArticleDraft", "parse_article", "validate_draft")

ARTICLE_STATUSES = ("draft", "published", "archived")
MAX_BODY_CHARS = 200_000  # a KB article, not a manual: split longer texts into articles
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z]{2,4})?$")


@dataclass(frozen=True)
class ArticleDraft:
    """An article as written by an author, before it is stored."""

    slug: str
    title: str
    body: str
    language: str = "en"
    status: str = "draft"
    tags: tuple[str, ...] = field(default_factory=tuple)


def validate_draft(
    *,
    slug: object,
    title: object,
    body: object,
    language: object = "en",
    status: object = "draft",
    tags: object = (),
    prefix: str = "",
) -> ArticleDraft:
    """Check every field and return a draft; raise :class:`InvalidArticle` naming the field at fault."""
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or len(slug) > 200:
        raise InvalidArticle("slug must be lowercase letters, digits and hyphens", field=f"{prefix}slug")
    if not isinstance(title, str) or not title.strip() or len(title) > 500:
        raise InvalidArticle("title must be a non-empty string of at most 500 characters", field=f"{prefix}title")
    if not isinstance(body, str) or not body.strip():
        raise InvalidArticle("body must be non-empty Markdown", field=f"{prefix}body")
    if len(body) > MAX_BODY_CHARS:
        raise ArticleTooLarge(f"body has {len(body)} characters; the limit is {MAX_BODY_CHARS}", field=f"{prefix}body")
    if not isinstance(language, str) or not LANGUAGE_RE.match(language):
        raise InvalidArticle("language must be a language code such as 'en' or 'nl'", field=f"{prefix}language")
    if status not in ARTICLE_STATUSES:
        raise InvalidArticle(f"status must be one of {', '.join(ARTICLE_STATUSES)}", field=f"{prefix}status")
    if isinstance(tags, str) or not all(isinstance(t, str) and t.strip() for t in tags or ()):
        raise InvalidArticle("tags must be a list of non-empty strings", field=f"{prefix}tags")
    return ArticleDraft(
        slug=slug,
        title=title.strip(),
        body=body.strip() + "\n",
        language=language,
        status=str(status),
        tags=tuple(t.strip() for t in tags or ()),
    )


def parse_article(text: str, *, default_slug: str | None = None) -> ArticleDraft:
    """Parse one Markdown document with front matter (title, slug, tags, language, status)."""
    try:
        post = frontmatter.loads(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise InvalidArticle(f"front matter is not valid YAML: {exc}", field="front_matter") from exc
    meta = post.metadata
    if not meta:
        raise InvalidArticle("the file has no YAML front matter (--- ... ---)", field="front_matter")
    return validate_draft(
        slug=meta.get("slug", default_slug),
        title=meta.get("title"),
        body=post.content,
        language=meta.get("language", "en"),
        status=meta.get("status", "draft"),
        tags=meta.get("tags") or (),
        prefix="front_matter.",
    )
