"""The registry of bundle versions in the database; at most one active per kind."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import ArtifactVersion
from models.base import utcnow
from triage.errors import BundleUnavailable

__all__ = ("activate", "get_active", "list_versions", "register")


def register(session: Session, kind: str, version: str, path: str, manifest: dict[str, Any]) -> ArtifactVersion:
    """Record a new bundle as a candidate."""
    row = ArtifactVersion(kind=kind, version=version, path=path, state="candidate", manifest=manifest)
    session.add(row)
    session.flush()
    return row


def activate(session: Session, kind: str, version: str) -> ArtifactVersion:
    """Make ``version`` the one active bundle of ``kind``; the previous active one is retired."""
    row = session.scalar(
        select(ArtifactVersion).where(ArtifactVersion.kind == kind, ArtifactVersion.version == version)
    )
    if row is None:
        raise BundleUnavailable(f"no {kind} bundle with version {version!r}", field="version")
    session.execute(
        update(ArtifactVersion)
        .where(ArtifactVersion.kind == kind, ArtifactVersion.state == "active", ArtifactVersion.id != row.id)
        .values(state="retired")
    )
    session.flush()
    row.state = "active"
    row.activated_at = utcnow()
    session.flush()
    return row


def get_active(session: Session, kind: str) -> ArtifactVersion | None:
    """The active bundle row of ``kind``, if any."""
    return session.scalar(
        select(ArtifactVersion).where(ArtifactVersion.kind == kind, ArtifactVersion.state == "active")
    )


def list_versions(session: Session, kind: str) -> list[ArtifactVersion]:
    """All bundle rows of ``kind``, newest first."""
    return list(
        session.scalars(
            select(ArtifactVersion).where(ArtifactVersion.kind == kind).order_by(ArtifactVersion.created_at.desc())
        )
    )
