"""Alembic environment: uses the engine factory so SQLite gets the same pragmas as the app."""

from __future__ import annotations

from alembic import context

from models import Base
from models.db import make_engine
from models.migrate import ours

config = context.config
url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run_migrations() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            include_name=ours,  # autogenerate leaves the job queue's own tables alone
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
