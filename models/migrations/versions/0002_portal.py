"""portal suggestions and events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_suggestions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("nothing_fits", sa.Boolean(), nullable=False),
        sa.Column("articles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_suggestions")),
    )
    with op.batch_alter_table("portal_suggestions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_suggestions_created_at"), ["created_at"], unique=False)
    op.create_table(
        "portal_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("article_slug", sa.String(length=200), nullable=True),
        sa.Column("article_revision", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["portal_suggestions.id"],
            name=op.f("fk_portal_events_suggestion_id_portal_suggestions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_events")),
    )
    with op.batch_alter_table("portal_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_events_suggestion_id"), ["suggestion_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portal_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_events_suggestion_id"))
    op.drop_table("portal_events")
    with op.batch_alter_table("portal_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_suggestions_created_at"))
    op.drop_table("portal_suggestions")
