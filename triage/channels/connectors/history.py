"""A helpdesk's ticket as our history: its id in ours, its labels translated, and the fields of a stored
resolved ticket (training data), for resolution sync and backfill alike."""

from __future__ import annotations

from typing import Any

from models.base import utcnow
from models.hashing import content_hash
from models.tickets import LABEL_FIELDS
from triage.channels.connectors.base import RemoteTicket
from triage.channels.connectors.registry import Labels
from triage.text.language import detect_language

__all__ = ("external_id", "history_values", "remote_labels")

MAX_SUBJECT = 1000


def external_id(name: str, remote_id: str) -> str:
    """Our ``external_id`` of a helpdesk's ticket: the connector's name and their id."""
    return f"{name}:{remote_id}"


def remote_labels(remote: RemoteTicket, labels: Labels) -> dict[str, str]:
    """The helpdesk ticket's labels in ours. Left out: empty fields, and untriaged values the mapping does
    not name (an inbox queue is no team; a default priority the mapping names is a priority)."""
    out = {}
    for name in dict.fromkeys([*LABEL_FIELDS, *remote.fields]):  # the built-in fields, then any added one
        theirs = remote.fields.get(name)
        if theirs and (not labels.unset(name, theirs) or theirs in labels.mapping.get(name, {})):
            out[name] = labels.ours(name, theirs)
    return out


def history_values(name: str, kind: str, remote: RemoteTicket, labels: Labels) -> dict[str, Any]:
    """The columns of a resolved ticket stored from the helpdesk's resolved or closed ``remote`` (the
    helpdesk's "closed" is resolved and done here too: both are training data)."""
    subject, body = remote.subject.strip()[:MAX_SUBJECT], remote.body.strip()
    found = remote_labels(remote, labels)
    resolved_at = remote.resolved_at or remote.created_at or utcnow()
    return {
        "external_id": external_id(name, remote.id),
        "subject": subject,
        "body": body,
        "requester": remote.requester,
        "channel": kind,
        "language": detect_language(f"{subject}\n{body}"),
        "status": "resolved",
        "resolution": (remote.resolution or "").strip() or None,
        "content_hash": content_hash(subject, body),
        "created_at": remote.created_at or resolved_at,
        "resolved_at": resolved_at,
        **{k: v for k, v in found.items() if k in LABEL_FIELDS},
        "labels": {k: v for k, v in found.items() if k not in LABEL_FIELDS},  # the fields a deployment added
    }
