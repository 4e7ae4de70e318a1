"""Errors the knowledge base raises; the api maps them to problem details."""

from __future__ import annotations

from models.errors import Conflict, InvalidInput, NotFound

__all__ = ("ArticleExists", "ArticleNotFound", "InvalidArticle")


class ArticleNotFound(NotFound):
    """No article has that slug."""


class ArticleExists(Conflict):
    """An article with that slug already exists."""


class InvalidArticle(InvalidInput):
    """Front matter or Markdown that cannot be accepted."""
