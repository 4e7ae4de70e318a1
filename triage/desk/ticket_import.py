"""Import ticket history from CSV or JSONL with a field-to-column mapping; all rows or none."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Ticket
from models.fields import FieldSpec, active_fields
from models.hashing import content_hash
from models.tickets import LABEL_FIELDS, TICKET_STATUSES
from triage.errors import InvalidImport
from triage.sla.store import active_policy, start_clock

__all__ = (
    "IMPORT_FIELDS",
    "LABEL_FIELDS",
    "check_columns",
    "clean_value",
    "import_tickets",
    "parse_mapping",
    "parse_tickets",
    "parse_time",
    "read_rows",
    "require_mapped",
    "store_tickets",
)

IMPORT_FIELDS = (
    "subject",
    "body",
    "category",
    "priority",
    "assignee",
    "resolution",
    "external_id",
    "created_at",
    "resolved_at",
    "requester",
    "channel",
    "language",
    "status",
)
_DATE_FIELDS = ("created_at", "resolved_at")
_LIMITS = {
    "subject": 1000,
    "requester": 320,
    "channel": 40,
    "language": 16,
    "category": 200,
    "priority": 50,
    "assignee": 200,
    "external_id": 200,
}


def parse_mapping(pairs: Iterable[str], known: Sequence[str] = IMPORT_FIELDS) -> dict[str, str]:
    """Parse ``field=column`` pairs for the ``known`` fields; the error names the unknown field."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not column:
            raise InvalidImport(f"mapping {pair!r} is not field=column", field="map")
        if field not in known:
            raise InvalidImport(f"unknown field {field!r}; known: {', '.join(known)}", field=f"map.{field}")
        mapping[field] = column
    return mapping


def require_mapped(mapping: Mapping[str, str], fields: Iterable[str]) -> None:
    """Raise :class:`InvalidImport` naming the first of ``fields`` that no column is mapped to."""
    for field in fields:
        if field not in mapping:
            raise InvalidImport(f"map a column to {field} (e.g. --map {field}=COLUMN)", field=f"map.{field}")


def check_columns(mapping: Mapping[str, str], columns: Sequence[str], file_name: str) -> None:
    """Raise :class:`InvalidImport` naming the field whose mapped column is not in the file."""
    for field, column in mapping.items():
        if column not in columns:
            raise InvalidImport(f"mapped column {column!r} for {field} is not in {file_name}", field=f"map.{field}")


def read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Read a ``.csv`` or ``.jsonl`` file into (columns, rows)."""
    if not path.is_file():
        raise InvalidImport(f"{path} does not exist", field="file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                return list(reader.fieldnames or []), rows
        if suffix in {".jsonl", ".ndjson"}:
            rows = []
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if line.strip():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise InvalidImport(f"line {n}: invalid JSON ({exc.msg})", field=f"line {n}") from exc
                    if not isinstance(row, dict):
                        raise InvalidImport(f"line {n} is not a JSON object", field=f"line {n}")
                    rows.append(row)
            columns = sorted({key for row in rows for key in row})
            return columns, rows
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidImport(f"{path.name} cannot be read: {exc}", field="file") from exc
    raise InvalidImport(f"{path.name}: only .csv and .jsonl files can be imported", field="file")


def parse_time(value: Any, where: str) -> datetime | None:
    """An ISO 8601 date-time (UTC when no zone is given); the error names ``where``."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidImport(f"{where}: {value!r} is not an ISO 8601 date-time", field=where) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def clean_value(value: Any) -> str | None:
    """A stripped string, or None for missing or blank values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _to_ticket_fields(
    row: Mapping[str, Any], mapping: Mapping[str, str], n: int, added: Sequence[FieldSpec] = ()
) -> dict[str, Any]:
    values = {field: clean_value(row.get(column)) for field, column in mapping.items()}
    labels = {}
    for spec in added:  # a field the deployment added: its label goes to the ticket's labels
        label = values.pop(spec.name, None)
        if label and len(label) > 200:
            raise InvalidImport(f"row {n}: {spec.name} is longer than 200 characters", field=f"row {n}.{spec.name}")
        if label:
            labels[spec.name] = " ".join(label.split())
    values["labels"] = labels
    if not values.get("subject") and not values.get("body"):
        raise InvalidImport(f"row {n}: subject and body are both empty", field=f"row {n}.subject")
    for field, limit in _LIMITS.items():
        if values.get(field) and len(values[field]) > limit:
            raise InvalidImport(f"row {n}: {field} is longer than {limit} characters", field=f"row {n}.{field}")
    for field in _DATE_FIELDS:
        values[field] = parse_time(values.get(field), f"row {n}.{field}")
    labelled = any(values.get(field) for field in LABEL_FIELDS) or bool(labels)
    status = values.get("status") or ("resolved" if labelled else "new")
    if status not in TICKET_STATUSES:
        raise InvalidImport(f"row {n}: status {status!r} is not one of {TICKET_STATUSES}", field=f"row {n}.status")
    values["status"] = status
    values["subject"] = values.get("subject") or ""
    values["body"] = values.get("body") or ""
    values["content_hash"] = content_hash(values["subject"], values["body"])
    if not values.get("external_id"):
        values["external_id"] = "sha256:" + content_hash(*(str(row.get(c, "")) for c in sorted(row)))[:40]
    if values["status"] in {"resolved", "closed"} and values.get("resolved_at") is None:
        values["resolved_at"] = values.get("created_at")
    if values.get("created_at") is None:
        values.pop("created_at")
    return values


def parse_tickets(
    path: Path, mapping: Mapping[str, str] | None = None, fields: Sequence[FieldSpec] = ()
) -> list[dict[str, Any]]:
    """Read and validate every row of ``path`` into ticket fields; nothing is written.

    ``mapping`` maps our field names to the file's columns (fields not mapped default to a column of
    the same name when there is one). ``fields`` are the triage fields in force: one a deployment added
    is read from its mapped column, else its ``source`` column.
    """
    columns, rows = read_rows(path)
    resolved = {field: column for field, column in (mapping or {}).items()}
    check_columns(resolved, columns, path.name)
    for field in IMPORT_FIELDS:
        if field not in resolved and field in columns:
            resolved[field] = field
    added = [spec for spec in fields if spec.name not in IMPORT_FIELDS]
    for spec in added:
        if spec.name not in resolved and spec.column in columns:
            resolved[spec.name] = spec.column
    if "subject" not in resolved and "body" not in resolved:
        raise InvalidImport("map a subject or a body column (e.g. --map subject=title)", field="map.subject")
    return [_to_ticket_fields(row, resolved, n, added) for n, row in enumerate(rows, start=1)]


def store_tickets(
    session: Session, parsed: Sequence[Mapping[str, Any]], *, progress: Callable[[Iterable], Iterable] = iter
) -> Counter[str]:
    """Add parsed tickets whose external id is new; returns counts of ``created`` and ``skipped`` rows."""
    counts: Counter[str] = Counter()
    existing = set(session.scalars(select(Ticket.external_id).where(Ticket.external_id.is_not(None))))
    created = []
    for values in progress(parsed):
        if values["external_id"] in existing:
            counts["skipped"] += 1
            continue
        existing.add(values["external_id"])
        created.append(Ticket(**values))
        session.add(created[-1])
        counts["created"] += 1
    session.flush()
    active = active_policy(session)
    for ticket in created if active else ():
        start_clock(session, ticket, active=active)  # history is measured against the policy in force
    session.flush()
    return counts


def import_tickets(
    session: Session,
    path: Path,
    mapping: Mapping[str, str] | None = None,
    *,
    progress: Callable[[Iterable], Iterable] = iter,
) -> Counter[str]:
    """Import tickets from ``path``; rows with labels become resolved history.

    Every row is validated before anything is written, and rows whose external id already exists are
    skipped, so importing the same file twice adds nothing. Returns counts of ``created`` and
    ``skipped`` rows.
    """
    return store_tickets(session, parse_tickets(path, mapping, active_fields(session)), progress=progress)
