"""The artifact registry: one row per bundle version, at most one active per kind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("ARTIFACT_STATES", "ArtifactVersion")

ARTIFACT_STATES = ("candidate", "active", "retired")


class ArtifactVersion(Base):
    """A bundle on disk (``<kind>/<version>/``) and its lifecycle state."""

    __tablename__ = "artifact_versions"
    __table_args__ = (
        UniqueConstraint("kind", "version"),
        Index(
            "uq_artifact_versions_one_active",
            "kind",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    version: Mapped[str] = mapped_column(String(100))
    path: Mapped[str] = mapped_column(String(1000))
    state: Mapped[str] = mapped_column(String(20), default="candidate")
    manifest: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column()

    def folder(self, artifacts_dir: Path | None = None) -> Path:
        """Where this bundle's files are for a process whose artifacts folder is ``artifacts_dir``: under it
        as ``<kind>/<version>/`` when there (a shared folder mounted at another path on another machine),
        else where the writer put it."""
        if artifacts_dir is not None:
            local = Path(artifacts_dir) / self.kind / self.version
            if local.is_dir():
                return local
        return Path(self.path)
