"""agent assist: macros, assist feedback, incident events, merged tickets

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "macros",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_macros")),
    )
    op.create_table(
        "assist_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reply_id", sa.String(length=64), nullable=True),
        sa.Column("macro_id", sa.Integer(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["macro_id"], ["macros.id"], name=op.f("fk_assist_feedback_macro_id_macros"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_assist_feedback_ticket_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assist_feedback")),
    )
    with op.batch_alter_table("assist_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assist_feedback_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_assist_feedback_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("representative_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("rate_per_hour", sa.Double(), nullable=False),
        sa.Column("baseline_per_hour", sa.Double(), nullable=False),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["tickets.id"],
            name=op.f("fk_incident_events_representative_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_events_at"), ["at"], unique=False)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("requester_notified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_merged_into_id_tickets"), "tickets", ["merged_into_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_merged_into_id_tickets"), type_="foreignkey")
        batch_op.drop_column("requester_notified_at")
        batch_op.drop_column("merged_into_id")
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incident_events_at"))
    op.drop_table("incident_events")
    with op.batch_alter_table("assist_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assist_feedback_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_assist_feedback_created_at"))
    op.drop_table("assist_feedback")
    op.drop_table("macros")
