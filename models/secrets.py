"""Deployment secrets: random keys made once per deployment (by the migration that needs them) and shared
by every process through the database; never returned by the API or logged."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, utcnow

__all__ = ("IDENTITY_SECRET", "DeploymentSecret", "deployment_secret", "keyed_identity")

IDENTITY_SECRET = "identity"  # keys the hashes that name erased or exported requesters


class DeploymentSecret(Base):
    """One named random secret of this deployment."""

    __tablename__ = "deployment_secrets"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def deployment_secret(session: Session, name: str) -> bytes:
    """The secret called ``name``, made (64 random hex digits) if this deployment has none yet."""
    row = session.get(DeploymentSecret, name)
    if row is None:
        row = DeploymentSecret(name=name, value=secrets.token_hex(32))
        session.add(row)
        session.flush()
    return row.value.encode("ascii")


def keyed_identity(secret: bytes, requester: str) -> str:
    """An HMAC-SHA256 naming ``requester`` (trimmed, lower-cased): the same requester always gets the same
    value in one deployment, and nobody without the deployment's secret can test a guessed address
    against it (an unkeyed hash of an address can be confirmed by hashing candidates)."""
    plain = hashlib.sha256(requester.strip().lower().encode("utf-8")).hexdigest()
    return hmac.new(secret, plain.encode("ascii"), hashlib.sha256).hexdigest()
