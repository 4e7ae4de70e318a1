"""connectors: the helpdesks a deployment plugs into and the webhook deliveries they sent; internal
subscriptions (a connector's queue of work) beside webhook ones

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="webhook", nullable=False))

    op.create_table(
        "connectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=False),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("webhook_secret", sa.String(length=200), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("write_fields", sa.JSON(), nullable=False),
        sa.Column("untriaged", sa.JSON(), nullable=False),
        sa.Column("note", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("backfill_cursor", sa.Text(), nullable=True),
        sa.Column("backfill_state", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_connectors_subscription_id_webhook_subscriptions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connectors")),
        sa.UniqueConstraint("name", name=op.f("uq_connectors_name")),
    )
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connectors_subscription_id"), ["subscription_id"], unique=False)

    op.create_table(
        "connector_inbound",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("remote_id", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_connector_inbound_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_connector_inbound_ticket_id_tickets"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_inbound")),
        sa.UniqueConstraint("connector_id", "delivery_id", name="uq_connector_inbound_once"),
    )
    with op.batch_alter_table("connector_inbound", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connector_inbound_connector_id"), ["connector_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connector_inbound_remote_id"), ["remote_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connector_inbound_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_table("connector_inbound")
    op.drop_table("connectors")
    with op.batch_alter_table("webhook_subscriptions", schema=None) as batch_op:
        batch_op.drop_column("kind")
