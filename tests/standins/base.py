"""What the three stand-ins share: the recorded call, the stored ticket, the error answer and the store with
its plumbing (auth, pagination, failures to play, routing); each helpdesk's module sets its routes and
answers."""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from triage.channels.connectors.base import ConnectorConfig

__all__ = ("CREDENTIALS", "EPOCH", "Call", "Hook", "Reply", "StandIn", "StoredTicket", "plain", "when")

CREDENTIALS = {
    "zammad": {"token": "zammad-test-token"},
    "zendesk": {"email": "triage@example.test", "token": "zendesk-test-token"},
    "freshdesk": {"api_key": "freshdesk-test-key"},
}
EPOCH = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Call:
    """One request as it arrived: ``json`` is the parsed body (``None`` for none or not JSON)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class StoredTicket:
    """A ticket in the store, in the helpdesk's own values (``status``: Zammad's state name, Zendesk's
    status, Freshdesk's number; ``priority`` likewise). ``articles``: its first message, replies and
    notes, each ``{"id", "body", "internal", "agent", "created_at"}``."""

    id: int
    subject: str
    status: Any
    group: str | None
    priority: Any
    requester: str
    created_at: str
    updated_at: str
    custom: dict[str, Any] = field(default_factory=dict)
    articles: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False  # soft-deleted (Zendesk's export shows it as "deleted", Freshdesk's trash)


@dataclass(frozen=True)
class Hook:
    """A webhook as the helpdesk sends it: its JSON body, headers and query parameters."""

    content: bytes
    headers: dict[str, str]
    params: dict[str, str]


class Reply(Exception):  # a handler's answer, raised from anywhere in it
    """An answer other than the handler's own: ``status`` and a JSON body (``None``: empty)."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


class StandIn:
    """The shared store and plumbing; each helpdesk's subclass sets ``kind``, its ``routes`` and its
    answers."""

    kind = ""
    groups: dict[int, str] = {}
    statuses: tuple[Any, ...] = ()
    priorities: tuple[Any, ...] = ()
    defaults: tuple[Any, Any] = (None, None)  # status, priority of a new ticket

    def __init__(self) -> None:
        self.credentials = dict(CREDENTIALS[self.kind])
        self.groups = dict(type(self).groups)
        self.tickets: dict[int, StoredTicket] = {}
        self.calls: list[Call] = []
        self.page_size: int | None = None  # caps every page, to page through a few tickets
        self.base_url = ""
        self._failures: list[tuple[int, Callable[[Call], bool] | None]] = []
        self._ticks = 0
        self._ids = 0
        self._lock = threading.RLock()

    # --- what a test does --------------------------------------------------------------------------

    def config(self, name: str = "desk", **options: str) -> ConnectorConfig:
        """A connector configuration for this stand-in (its URL and credentials)."""
        return ConnectorConfig(name=name, base_url=self.base_url, credentials=self.credentials, options=options)

    def now(self) -> str:
        """The store's clock: a minute later at every call, as ISO 8601 in UTC."""
        with self._lock:
            self._ticks += 1
            return (EPOCH + timedelta(minutes=self._ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_ticket(
        self,
        subject: str,
        body: str,
        *,
        status: Any = None,
        group: str | None = None,
        priority: Any = None,
        requester: str = "customer@example.test",
        custom: dict[str, Any] | None = None,
        replies: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
    ) -> str:
        """Store a ticket (its first message, then agent ``replies`` and internal ``notes``); its id."""
        with self._lock:
            self._ids += 1
            created = self.now()
            ticket = StoredTicket(
                id=self._ids,
                subject=subject,
                status=self.defaults[0] if status is None else status,
                group=group,
                priority=self.defaults[1] if priority is None else priority,
                requester=requester,
                created_at=created,
                updated_at=created,
                custom=dict(custom or {}),
            )
            self.tickets[ticket.id] = ticket
            self.add_article(ticket, body, internal=False, agent=False)
            for text in replies:
                self.add_article(ticket, text, internal=False, agent=True)
            for text in notes:
                self.add_article(ticket, text, internal=True, agent=True)
            return str(ticket.id)

    def add_article(self, ticket: StoredTicket, body: str, *, internal: bool, agent: bool) -> dict[str, Any]:
        """Add a message to a ticket (and update it)."""
        with self._lock:
            self._ids += 1
            article = {"id": self._ids, "body": body, "internal": internal, "agent": agent, "created_at": self.now()}
            ticket.articles.append(article)
            ticket.updated_at = article["created_at"]
            return article

    def delete_ticket(self, ticket_id: str | int, *, soft: bool = False) -> None:
        """Delete a ticket: gone for good (404), or ``soft`` (Freshdesk's trash, Zendesk's deleted)."""
        with self._lock:
            if soft:
                self.tickets[int(ticket_id)].deleted = True
            else:
                del self.tickets[int(ticket_id)]

    def fail_next(self, n: int = 1, status: int = 503, *, only: Callable[[Call], bool] | None = None) -> None:
        """Answer the next ``n`` calls (any route; with ``only``, the next ``n`` calls it picks: the others
        are answered as usual) with ``status``, as a service that is down."""
        with self._lock:
            self._failures += [(status, only)] * n

    def recover(self) -> int:
        """The service is back: drop the failures :meth:`fail_next` had left to play; how many were left."""
        with self._lock:
            left, self._failures = len(self._failures), []
            return left

    def ticket(self, ticket_id: str | int) -> StoredTicket:
        """The stored ticket, to assert on."""
        return self.tickets[int(ticket_id)]

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The recorded calls of ``method`` to ``path`` (a regular expression matched in full)."""
        return [c for c in self.calls if c.method == method and re.fullmatch(path, c.path)]

    def notes(self, ticket_id: str | int) -> list[str]:
        """The ticket's internal notes as they were written (HTML when written as HTML)."""
        return [a.get("html", a["body"]) for a in self.ticket(ticket_id).articles if a["internal"]]

    def field_changes(self, ticket_id: str | int) -> list[Call]:
        """The recorded calls to set the ticket's fields (a ``PUT`` of the ticket that adds no comment)."""
        path = rf"/api/v\d/tickets/{int(ticket_id)}(\.json)?"
        return [c for c in self.calls_to("PUT", path) if "comment" not in ((c.json or {}).get("ticket") or {})]

    # --- what each helpdesk defines ----------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Any]]:
        """``(method, path pattern, handler(match, call))``; a handler returns the JSON body (200)."""
        raise NotImplementedError

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        """The helpdesk's error answer."""
        raise NotImplementedError

    def webhook(self, ticket_id: str, event: str, secret: str) -> Hook:
        """The webhook the helpdesk sends when the ticket was ``created`` or ``updated``, set up as the
        connector's docstring says, signed (or carrying the shared secret) as the helpdesk does it."""
        raise NotImplementedError

    # --- plumbing ------------------------------------------------------------------------------------

    def basic(self, headers: dict[str, str], user: str, password: str) -> bool:
        """Whether the request carries exactly this HTTP basic auth."""
        wanted = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return headers.get("authorization") == wanted

    def stored(self, ticket_id: str) -> StoredTicket:
        ticket = self.tickets.get(int(ticket_id))
        if ticket is None:
            raise self.refusal(404, f"no ticket {ticket_id}")
        return ticket

    def group_id(self, name: str | None) -> int | None:
        return next((i for i, n in self.groups.items() if n == name), None)

    def page(self, items: list[Any], call: Call, default: int, most: int) -> tuple[list[Any], bool]:
        """Offset pagination by ``page`` and ``per_page``: the page's items and whether more follow."""
        try:
            number, size = int(call.query.get("page", "1")), int(call.query.get("per_page", str(default)))
        except ValueError:
            raise self.refusal(400, "page and per_page must be numbers", "page") from None
        if number < 1 or not 0 < size <= most:
            raise self.refusal(400, f"per_page must be between 1 and {most}", "per_page")
        size = min(size, self.page_size or size)
        return items[(number - 1) * size : number * size], len(items) > number * size

    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, str], Any]:
        """Record the call, then answer it: ``(status, headers, JSON body or None)``."""
        parts = urlsplit(target)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        call = Call(method, parts.path, dict(parse_qsl(parts.query)), headers, body)
        with self._lock:
            self.calls.append(call)
            failure = None
            if self._failures and (self._failures[0][1] is None or self._failures[0][1](call)):
                failure = self._failures.pop(0)[0]
            if failure is not None:
                return failure, {"retry-after": "1"}, {"error": "Service Unavailable"}
            try:
                if not self.authorized(headers):
                    raise self.refusal(401, "wrong or missing credentials")
                for verb, pattern, handler in self.routes():
                    match = re.fullmatch(pattern, call.path)
                    if match and verb == method:
                        if method in ("POST", "PUT"):
                            self.check_body(call, headers)
                        return 200 if method != "POST" else 201, {}, handler(match, call)
                raise self.refusal(404, f"no route {method} {call.path}")
            except Reply as reply:
                return reply.status, reply.headers, reply.body

    def check_body(self, call: Call, headers: dict[str, str]) -> None:
        """Refuse a body that is not a JSON object, or not declared as JSON."""
        if "application/json" not in headers.get("content-type", ""):
            raise self.refusal(415, "Content-Type must be application/json", "content-type")
        if not isinstance(call.json, dict):
            raise self.refusal(400, "the body is not a JSON object", "body")


def plain(markup: str) -> str:
    """HTML as the helpdesk's plain-text rendering of it: tags dropped, entities decoded, spaces folded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def when(text: str) -> datetime:
    """An ISO 8601 time of the store's clock."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
