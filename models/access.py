"""API keys: only a hash of each key is stored, with the role it grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

__all__ = ("ROLES", "ApiKey")

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
