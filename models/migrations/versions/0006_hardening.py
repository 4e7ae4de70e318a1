"""hardening: a deployment secret keying requester hashes, feedback on behalf of a person, portal events
counted once

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_NOT_NULL, _NULL = sa.text("article_slug IS NOT NULL"), sa.text("article_slug IS NULL")


def _rekey_erasures(secret: str) -> None:
    """Erasures named their requester by an unkeyed SHA-256 (confirmable by hashing a guessed address);
    each becomes the HMAC of that hash under the new secret, in ``erasures`` and in the audit trail's
    ``requester.erased`` targets (the append-only triggers step aside for this one rewrite)."""
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, requester_hash FROM erasures")).all()
    if not rows:
        return
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_change")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
    for erasure_id, old in rows:
        new = hmac.new(secret.encode("ascii"), old.encode("ascii"), hashlib.sha256).hexdigest()
        bind.execute(
            sa.text("UPDATE erasures SET requester_hash = :new WHERE id = :id"), {"new": new, "id": erasure_id}
        )
        bind.execute(
            sa.text("UPDATE audit_events SET target = :new WHERE action = 'requester.erased' AND target = :old"),
            {"new": f"requester:{new[:16]}", "old": f"requester:{old[:16]}"},
        )
    if postgres:
        op.execute("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_change")
    else:
        op.execute(
            "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
            "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"
        )


def upgrade() -> None:
    table = op.create_table(
        "deployment_secrets",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_secrets")),
    )
    secret = secrets.token_hex(32)
    op.bulk_insert(table, [{"name": "identity", "value": secret, "created_at": datetime.now(UTC)}])
    _rekey_erasures(secret)
    for name in ("feedback", "assist_feedback"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("on_behalf_of", sa.String(length=200), nullable=True))
    op.execute(  # a replayed event counted again before; keep the first of each
        "DELETE FROM portal_events WHERE id NOT IN "
        "(SELECT MIN(id) FROM portal_events GROUP BY suggestion_id, type, article_slug)"
    )
    with op.batch_alter_table("portal_events", schema=None) as batch_op:
        batch_op.create_index(
            "uq_portal_events_once_per_article",
            ["suggestion_id", "type", "article_slug"],
            unique=True,
            sqlite_where=_NOT_NULL,
            postgresql_where=_NOT_NULL,
        )
        batch_op.create_index(
            "uq_portal_events_once",
            ["suggestion_id", "type"],
            unique=True,
            sqlite_where=_NULL,
            postgresql_where=_NULL,
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_events", schema=None) as batch_op:
        batch_op.drop_index("uq_portal_events_once")
        batch_op.drop_index("uq_portal_events_once_per_article")
    for name in ("assist_feedback", "feedback"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_column("on_behalf_of")
    op.drop_table("deployment_secrets")  # erasures keep their keyed hashes: the plain ones are gone
