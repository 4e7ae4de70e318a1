"""work: the job queue's tables (procrastinate, PostgreSQL only), rate-limit windows shared by every API
process, and who runs a job (a thread of the process that took the request, or a queue worker)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

The queue's schema is procrastinate's own (``procrastinate.schema``), for the release pinned in
pyproject.toml; a later release's SQL migrations come in as migrations of ours.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_DROP_QUEUE = """
DO $$
DECLARE item record;
BEGIN
    DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers, procrastinate_jobs,
        procrastinate_workers CASCADE;
    FOR item IN SELECT oid::regprocedure AS signature FROM pg_proc WHERE proname LIKE 'procrastinate%' LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || item.signature || ' CASCADE';
    END LOOP;
    FOR item IN SELECT typname FROM pg_type WHERE typname LIKE 'procrastinate%' AND typtype IN ('c', 'e') LOOP
        EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(item.typname) || ' CASCADE';
    END LOOP;
END $$;
"""


def _driver_execute(sql: str) -> None:
    """Run a whole SQL script on the migration's own connection (no parameter parsing: ``%`` stays ``%``)."""
    op.get_bind().connection.driver_connection.execute(sql)


def upgrade() -> None:
    op.create_table(
        "rate_windows",
        sa.Column("bucket", sa.String(length=200), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_rate_windows")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("runner", sa.String(length=20), server_default="thread", nullable=False))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        from procrastinate.schema import SchemaManager

        _driver_execute(SchemaManager.get_schema())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _driver_execute(_DROP_QUEUE)
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("runner")
    op.drop_table("rate_windows")
