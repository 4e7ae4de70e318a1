"""API keys: only a hash of each key is stored, with the role it grants; create (the secret is shown
once), list, revoke, and look up a presented key."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.audit import Actor, record_audit
from models.base import Base, utcnow
from models.errors import Conflict, InvalidInput, NotFound

__all__ = ("KEY_PREFIX", "ROLES", "ApiKey", "create_key", "find_key", "hash_key", "list_keys", "revoke_key")

ROLES = ("portal", "agent", "analyst", "admin")


class ApiKey(Base):
    """One API key. ``key_hash`` is the SHA-256 of the secret (secrets are 256 random bits, so a fast
    hash is enough); ``prefix`` is its first characters, shown in lists so people can tell keys apart."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    rate_limit: Mapped[int | None] = mapped_column()  # requests per minute; None: the role's default
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()


KEY_PREFIX = "hdt_"
MAX_RATE_LIMIT = 1_000_000


def hash_key(secret: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(
    session: Session, role: str, name: str, *, rate_limit: int | None = None, actor: Actor | None = None
) -> tuple[ApiKey, str]:
    """A new key for ``role``; returns the row and the secret, which is not stored and never shown again."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("name must be 1 to 100 characters", field="name")
    if rate_limit is not None and not 1 <= rate_limit <= MAX_RATE_LIMIT:
        raise InvalidInput(f"rate_limit must be 1 to {MAX_RATE_LIMIT} requests per minute", field="rate_limit")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, role=role, prefix=secret[:12], key_hash=hash_key(secret), rate_limit=rate_limit)
    session.add(key)
    session.flush()
    record_audit(session, actor, "key.created", f"key:{key.id}", role=role, name=name)
    return key, secret


def list_keys(session: Session, *, include_revoked: bool = False) -> Sequence[ApiKey]:
    """Every key, oldest first (revoked ones only when asked)."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.scalars(query).all()


def revoke_key(session: Session, key_id: int, *, actor: Actor | None = None) -> ApiKey:
    """Revoke a key for good (404 if unknown, 409 if already revoked)."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}", field="key_id")
    if key.revoked_at is not None:
        raise Conflict(f"API key {key_id} is already revoked", field="key_id")
    key.revoked_at = utcnow()
    record_audit(session, actor, "key.revoked", f"key:{key.id}", role=key.role, name=key.name)
    return key


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The live key whose secret is ``secret``, or ``None`` (unknown or revoked)."""
    if not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    return key if key is not None and key.revoked_at is None else None
