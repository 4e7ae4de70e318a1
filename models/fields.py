"""Triage fields are configuration: which ticket labels a deployment predicts. Category, priority and
assignee are the defaults and live in their own columns; any other field (``product``, ``request_type``)
lives in the ticket's ``labels`` JSON, so adding or removing one needs no migration. Each saved
configuration is a version; the newest is in force and the next training picks it up."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, JSONType, utcnow
from models.errors import InvalidInput
from models.tickets import LABEL_FIELDS, Ticket

__all__ = (
    "BUILT_IN",
    "FieldConfigVersion",
    "FieldSpec",
    "active_fields",
    "field_names",
    "label_of",
    "labels_of",
    "parse_fields",
    "save_fields",
    "set_label",
)

BUILT_IN = LABEL_FIELDS  # the fields with a column of their own
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}$")  # feedback rows hold a field name of up to 20 characters
MAX_FIELDS = 12
MAX_LABELS = 500


@dataclass(frozen=True)
class FieldSpec:
    """One triage field: its name, the column it is read from in imports (its own name by default), and
    its labels: ``None`` when learned from history, else the fixed set a label must come from."""

    name: str
    source: str | None = None
    labels: tuple[str, ...] | None = None
    description: str | None = None

    @property
    def column(self) -> str:
        return self.source or self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.column,
            "labels": list(self.labels) if self.labels is not None else None,
            "description": self.description,
            "built_in": self.name in BUILT_IN,
        }


DEFAULT_FIELDS = tuple(FieldSpec(name) for name in BUILT_IN)


class FieldConfigVersion(Base):
    """One saved field configuration; the newest is in force."""

    __tablename__ = "field_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    actor: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _reserved() -> set[str]:
    """Ticket attributes a field may not be named after (the built-in label fields are allowed)."""
    return {c.key for c in Ticket.__table__.columns} - set(BUILT_IN)


def _spec(raw: Any, n: int) -> FieldSpec:
    where = f"fields[{n}]"
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{where} must be an object with a name", field=where)
    unknown = sorted(set(raw) - {"name", "source", "labels", "description", "built_in"})
    if unknown:
        raise InvalidInput(f"unknown field property {unknown[0]!r}", field=f"{where}.{unknown[0]}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"{where}.name must be 1-20 lower-case letters, digits or _ starting with a letter, not {name!r}",
            field=f"{where}.name",
        )
    if name in _reserved():
        raise InvalidInput(f"{name!r} is a built-in ticket column, not a label field", field=f"{where}.name")
    source = raw.get("source")
    if source is not None and (not isinstance(source, str) or not source.strip() or len(source) > 200):
        raise InvalidInput(f"{where}.source must name a column", field=f"{where}.source")
    labels = raw.get("labels")
    if labels is not None:
        ok = isinstance(labels, list) and 2 <= len(labels) <= MAX_LABELS
        if not ok or not all(isinstance(x, str) and x.strip() and len(x) <= 200 for x in labels):
            raise InvalidInput(
                f"{where}.labels must list 2 to {MAX_LABELS} label names, or be null", field=f"{where}.labels"
            )
        if len(set(labels)) != len(labels):
            raise InvalidInput(f"{where}.labels names a label twice", field=f"{where}.labels")
        labels = tuple(" ".join(x.split()) for x in labels)
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise InvalidInput(f"{where}.description must be text", field=f"{where}.description")
    return FieldSpec(name, source.strip() if source else None, labels, (description or None) and description[:500])


def parse_fields(document: Any) -> tuple[FieldSpec, ...]:
    """The field list of a configuration document (``{"fields": [...]}`` or the list itself), each checked;
    a problem names the field at fault (``fields[3].name``)."""
    raw = document.get("fields") if isinstance(document, Mapping) else document
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("fields must list at least one field", field="fields")
    if len(raw) > MAX_FIELDS:
        raise InvalidInput(f"at most {MAX_FIELDS} fields", field="fields")
    specs = tuple(_spec(item, n) for n, item in enumerate(raw))
    names = [s.name for s in specs]
    for n, name in enumerate(names):
        if name in names[:n]:
            raise InvalidInput(f"field {name!r} is declared twice", field=f"fields[{n}].name")
    return specs


def active_fields(session: Session) -> tuple[FieldSpec, ...]:
    """The fields in force: the newest saved configuration, else category, priority and assignee."""
    row = session.scalar(select(FieldConfigVersion).order_by(FieldConfigVersion.id.desc()).limit(1))
    return parse_fields(row.fields) if row is not None else DEFAULT_FIELDS


def field_names(session: Session) -> tuple[str, ...]:
    """The names of the fields in force, in their declared order."""
    return tuple(spec.name for spec in active_fields(session))


def save_fields(session: Session, document: Any, actor: str | None) -> FieldConfigVersion:
    """Check and save a new field configuration (nothing is saved when a check fails)."""
    specs = parse_fields(document)
    row = FieldConfigVersion(fields=[s.to_dict() for s in specs], actor=actor)
    session.add(row)
    session.flush()
    return row


def label_of(ticket: Any, name: str) -> str | None:
    """A ticket's label for field ``name`` (its column for a built-in field, else its ``labels`` entry)."""
    if name in BUILT_IN:
        return getattr(ticket, name)
    return (getattr(ticket, "labels", None) or {}).get(name)


def labels_of(ticket: Any, names: Sequence[str]) -> dict[str, str | None]:
    """The ticket's labels for ``names``."""
    return {name: label_of(ticket, name) for name in names}


def set_label(ticket: Ticket, name: str, value: str | None) -> None:
    """Set a ticket's label for field ``name`` (a new dict for ``labels``, so the change is saved)."""
    if name in BUILT_IN:
        setattr(ticket, name, value)
        return
    labels = dict(ticket.labels or {})
    if value is None:
        labels.pop(name, None)
    else:
        labels[name] = value
    ticket.labels = labels
