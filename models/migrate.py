"""Alembic migrations run programmatically (``helpdesk db upgrade``); no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ("alembic_config", "downgrade", "ours", "upgrade")

_SCRIPTS = Path(__file__).resolve().parent / "migrations"


def ours(name: str | None, type_: str, parent_names: dict) -> bool:
    """Whether a database object is ours to compare with the models: the job queue's tables and types are
    procrastinate's (migration 0011 applies its schema), not declared by our ORM classes."""
    return not (name or "").startswith("procrastinate")


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at this package's migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision``."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the schema down to ``revision``."""
    command.downgrade(alembic_config(database_url), revision)
