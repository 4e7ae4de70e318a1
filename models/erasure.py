"""Erasures: which tickets had their requester's personal data erased, so every serving process drops
their vectors from the indexes it holds, and no later training set includes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("Erasure",)


class Erasure(Base):
    """One erasure request. The requester is kept only as a keyed hash (:func:`models.secrets.keyed_identity`),
    so the erasure itself holds no personal data but a repeated request can be recognised."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_hash: Mapped[str] = mapped_column(String(64), index=True)
    ticket_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    at: Mapped[datetime] = mapped_column(default=utcnow)
