"""Errors the knowledge base raises; the api maps them to problem details."""

from __future__ import annotations

from models.errors import Conflict, InvalidInput, NotFound, TooLarge

__all__ = ("ArticleExists", "ArticleNotFound", "ArticleTooLarge", "InvalidArticle")


class ArticleNotFound(NotFound):
    """No article has that slug."""


class ArticleExists(Conflict):
    """An article with that slug already exists."""


class ArticleTooLarge(TooLarge):
    """An article body over the size limit."""


class InvalidArticle(InvalidInput):
    """Front matter or Markdown that cannot be accepted."""
