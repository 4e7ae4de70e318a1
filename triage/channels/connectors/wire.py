"""Reading what helpdesks send: JSON bodies, times, plain values, headers, and the signatures and tokens
that prove a webhook came from the helpdesk."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from models.errors import InvalidInput, Unauthenticated

__all__ = (
    "InvalidSignature",
    "body_digest",
    "check_hmac",
    "check_token",
    "field_value",
    "header",
    "json_payload",
    "when",
)


class InvalidSignature(Unauthenticated):
    """A webhook whose signature (or shared secret) does not verify; nothing of it is stored (401)."""


def json_payload(body: bytes) -> Any:
    """A webhook's JSON body; :class:`InvalidInput` naming ``body`` when it is not JSON."""
    try:
        return json.loads(body)
    except ValueError:
        raise InvalidInput("the webhook body is not JSON", field="body") from None


def when(value: Any) -> datetime | None:
    """An ISO 8601 time from a helpdesk's JSON (``Z`` included); ``None`` for anything else."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def field_value(value: Any) -> str | None:
    """A helpdesk field's value as a string (a list's items joined); ``None`` when it is empty."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value, whatever the case of its name."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def body_digest(body: bytes) -> str:
    """A delivery id for helpdesks that send none: the same body is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def check_token(headers: Mapping[str, str], query: Mapping[str, str], secret: str) -> None:
    """For helpdesks that sign nothing: the shared secret must come as ``?token=`` in the webhook's URL or
    in an ``X-Helpdesk-Triage-Token`` header (compared in constant time)."""
    given = query.get("token") or header(headers, "x-helpdesk-triage-token")
    if not given:
        raise InvalidSignature("the request carries no token (?token= or X-Helpdesk-Triage-Token)", field="token")
    if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
        raise InvalidSignature("the token does not match", field="token")


def check_hmac(expected: str | None, secret: str, message: bytes, algorithm: str, *, encoding: str = "hex") -> None:
    """Raise :class:`InvalidSignature` unless ``expected`` is the HMAC of ``message`` under ``secret``
    (``encoding``: ``hex`` or ``base64``), compared in constant time."""
    import base64

    if not expected:
        raise InvalidSignature("the request carries no signature", field="signature")
    digest = hmac.new(secret.encode("utf-8"), message, algorithm).digest()
    wanted = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")
    if not hmac.compare_digest(wanted.encode("ascii"), expected.strip().encode("ascii", "replace")):
        raise InvalidSignature("the signature does not match the body", field="signature")
