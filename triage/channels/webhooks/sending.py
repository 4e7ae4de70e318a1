"""One signed HTTP delivery of an event (Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature``), with a timeout, a cap on the response read, no redirects followed, and only to a
destination the deployment allows."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from standardwebhooks import Webhook

from models.channel_settings import WebhookSettings
from models.outbox import OutboxEvent
from triage.channels.webhooks.destinations import resolve
from triage.errors import InvalidQuery

__all__ = ("Attempt", "Sender", "event_body", "new_secret")

USER_AGENT = "helpdesk-triage-webhooks/1"


def new_secret() -> str:
    """A new signing secret in the Standard Webhooks form (``whsec_`` and 32 random bytes in base64)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def event_body(event: OutboxEvent) -> str:
    """The JSON body of an event: ``type``, ``timestamp`` (when it happened) and ``data``; the same bytes on
    every attempt."""
    envelope: dict[str, Any] = {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Attempt:
    """What one attempt got: an HTTP status, or an error (no answer, refused destination). ``final``: a
    failure that trying again cannot fix (given up at once)."""

    status: int | None
    error: str | None
    seconds: float
    response: str = ""
    final: bool = False

    @property
    def delivered(self) -> bool:
        """A 2xx answer."""
        return self.status is not None and 200 <= self.status < 300


class Sender:
    """Sends signed events over one HTTP client (thread-safe)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        timeout = httpx.Timeout(settings.timeout_seconds)
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def send(self, url: str, secret: str, event_id: str, body: str) -> Attempt:
        """POST ``body`` to ``url`` signed with ``secret``; never raises."""
        started = time.monotonic()
        try:
            destination = resolve(url, self.settings.allow_networks)
        except InvalidQuery as error:
            return Attempt(None, f"refused: {error.detail}", time.monotonic() - started)
        timestamp = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "host": destination.host if destination.port in {80, 443} else f"{destination.host}:{destination.port}",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": Webhook(secret).sign(event_id, timestamp, body),
        }
        extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
        deadline = started + self.settings.timeout_seconds
        try:
            request = self.client.build_request(
                "POST", destination.url, content=body.encode("utf-8"), headers=headers, extensions=extensions
            )
            response = self.client.send(request, stream=True)
            try:
                read = bytearray()
                for chunk in response.iter_bytes():
                    read += chunk
                    if len(read) >= self.settings.max_response_bytes or time.monotonic() > deadline:
                        break
            finally:
                response.close()
            text = bytes(read[: self.settings.max_response_bytes]).decode("utf-8", "replace")[:500]
            error = None
            if 300 <= response.status_code < 400:
                error = "redirects are not followed"
            elif not 200 <= response.status_code < 300:
                error = f"HTTP {response.status_code}"
            return Attempt(response.status_code, error, time.monotonic() - started, text)
        except httpx.HTTPError as error:
            return Attempt(None, f"{type(error).__name__}: {error}"[:500], time.monotonic() - started)
