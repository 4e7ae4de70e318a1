"""Local stand-ins for the Zammad, Zendesk and Freshdesk REST APIs: a real HTTP server on a free port that
answers just the calls the connectors make, over an in-memory store of tickets, as the helpdesks document
them (see tests/data/connectors/README.md). It records every call, refuses what the real service refuses
(wrong or missing auth 401, an unknown route 404, a malformed call 400/415/422 with that service's error
body) and can play the API down (:meth:`StandIn.fail_next`) or a ticket deleted (:meth:`StandIn.delete_ticket`).

    with standin("zendesk") as api:
        ticket_id = api.add_ticket("Printer jammed", "It beeps.", group="Support")
        connector = ZendeskConnector(api.config())
        ...
        assert api.calls[-1].json == {...}
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from triage.channels.connectors.base import ConnectorConfig

__all__ = (
    "APIS",
    "Call",
    "FreshdeskStandIn",
    "Reply",
    "StandIn",
    "StoredTicket",
    "ZammadStandIn",
    "ZendeskStandIn",
    "standin",
)

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
        self._failures: list[int] = []
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

    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """Answer the next ``n`` calls (any route) with ``status``, as a service that is down."""
        with self._lock:
            self._failures += [status] * n

    def ticket(self, ticket_id: str | int) -> StoredTicket:
        """The stored ticket, to assert on."""
        return self.tickets[int(ticket_id)]

    def calls_to(self, method: str, path: str) -> list[Call]:
        """The recorded calls of ``method`` to ``path`` (a regular expression matched in full)."""
        return [c for c in self.calls if c.method == method and re.fullmatch(path, c.path)]

    # --- what each helpdesk defines ----------------------------------------------------------------

    def routes(self) -> list[tuple[str, str, Any]]:
        """``(method, path pattern, handler(match, call))``; a handler returns the JSON body (200)."""
        raise NotImplementedError

    def authorized(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        """The helpdesk's error answer."""
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
            failure = self._failures.pop(0) if self._failures else None
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


def _plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ZammadStandIn(StandIn):
    """Zammad's REST API (https://docs.zammad.org/en/latest/api/intro.html)."""

    kind = "zammad"
    groups = {1: "Users", 2: "Support", 3: "Billing"}
    statuses = ("new", "open", "pending reminder", "closed", "merged", "removed", "pending close")
    priorities = ("1 low", "2 normal", "3 high")
    defaults = ("new", "2 normal")
    article_types = ("email", "phone", "web", "note", "sms", "chat", "fax")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Token token={self.credentials['token']}"

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        status = 422 if status == 415 else status  # Zammad finds no parameters in a body it does not read
        return Reply(status, {"error": message, "error_human": message})

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/api/v1/tickets/search", self.search),
            ("GET", r"/api/v1/tickets/(\d+)", lambda m, c: self.render(self.stored(m[1]), c.query.get("expand"))),
            ("GET", r"/api/v1/ticket_articles/by_ticket/(\d+)", lambda m, c: self.articles(self.stored(m[1]))),
            ("POST", r"/api/v1/ticket_articles", self.create_article),
            ("PUT", r"/api/v1/tickets/(\d+)", self.update),
            ("GET", r"/api/v1/users/me", lambda m, c: {"id": 3, "login": "triage", "firstname": "Triage"}),
        ]

    def render(self, t: StoredTicket, expand: str | None) -> dict[str, Any]:
        ids = [a["id"] for a in t.articles]
        out = {
            "id": t.id,
            "number": str(31000 + t.id),
            "title": t.subject,
            "group_id": self.group_id(t.group),
            "priority_id": self.priorities.index(t.priority) + 1,
            "state_id": self.statuses.index(t.status) + 1,
            "customer_id": 10,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
            "close_at": t.updated_at if t.status == "closed" else None,
            "article_ids": ids,
            "article_count": len(ids),
            **t.custom,
        }
        if expand == "true":
            out.update(group=t.group, priority=t.priority, state=t.status, customer=t.requester)
        return out

    def articles(self, t: StoredTicket) -> list[dict[str, Any]]:
        return [
            {
                "id": a["id"],
                "ticket_id": t.id,
                "type": "note" if a["internal"] else "email",
                "sender": "Agent" if a["agent"] else "Customer",
                "content_type": a.get("content_type", "text/plain"),
                "body": a["body"],
                "internal": a["internal"],
                "created_at": a["created_at"],
                "updated_at": a["created_at"],
            }
            for a in t.articles
        ]

    def search(self, match: re.Match[str], call: Call) -> list[dict[str, Any]]:
        query = call.query.get("query")
        if not query:
            raise self.refusal(422, "Need query!")
        found = list(self.tickets.values())
        states = re.search(r'state\.name:(\([^)]*\)|"[^"]*"|\S+)', query)
        if states:
            names = {a or b for a, b in re.findall(r'"([^"]+)"|([^\s()"]+)', states[1])} - {"OR"}
            found = [t for t in found if t.status in names]
        key = call.query.get("sort_by", "id")
        if key not in ("id", "created_at", "updated_at"):
            raise self.refusal(422, f"unknown sort_by {key}")
        found.sort(key=lambda t: getattr(t, key), reverse=call.query.get("order_by") == "desc")
        shown, _ = self.page(found, call, 50, 200)
        return [self.render(t, call.query.get("expand")) for t in shown]

    def create_article(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        note = call.json
        if not note.get("ticket_id"):
            raise self.refusal(422, "Need ticket_id!")
        ticket = self.stored(str(note["ticket_id"]))
        if not isinstance(note.get("body"), str) or not note["body"].strip():
            raise self.refusal(422, "Need body!")
        if note.get("content_type", "text/plain") not in ("text/html", "text/plain"):
            raise self.refusal(422, f"unknown content_type {note['content_type']!r}")
        if note.get("type", "note") not in self.article_types:
            raise self.refusal(422, f"No lookup value found for 'type': {note['type']!r}")
        if not isinstance(note.get("internal", False), bool):
            raise self.refusal(422, "internal must be true or false")
        article = self.add_article(ticket, note["body"], internal=note.get("internal", False), agent=True)
        article["content_type"] = note.get("content_type", "text/plain")
        return self.articles(ticket)[-1]

    def update(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.stored(match[1])
        change = call.json
        lookups = {"group": tuple(self.groups.values()), "priority": self.priorities, "state": self.statuses}
        for name, allowed in lookups.items():
            if name in change and change[name] not in allowed:
                raise self.refusal(422, f"No lookup value found for '{name}': {change[name]!r}")
        ticket.group = change.get("group", ticket.group)
        ticket.priority = change.get("priority", ticket.priority)
        ticket.status = change.get("state", ticket.status)
        ticket.updated_at = self.now()
        return self.render(ticket, None)


class ZendeskStandIn(StandIn):
    """Zendesk's Support API (https://developer.zendesk.com/api-reference/)."""

    kind = "zendesk"
    groups = {360001: "Support", 360002: "Billing"}
    statuses = ("new", "open", "pending", "hold", "solved", "closed")
    priorities = (None, "low", "normal", "high", "urgent")
    defaults = ("new", None)
    agent = 9001

    def authorized(self, headers: dict[str, str]) -> bool:
        return self.basic(headers, f"{self.credentials['email']}/token", self.credentials["token"])

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        if status == 401:
            return Reply(401, {"error": "Couldn't authenticate you"})
        if status == 404:
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        if status == 422:
            details = {field_name or "base": [{"description": message, "error": "InvalidValue"}]}
            return Reply(422, {"error": "RecordInvalid", "description": "Record validation errors", "details": details})
        return Reply(400, {"error": "InvalidRequest", "description": message})

    def routes(self) -> list[tuple[str, str, Any]]:
        me = {"id": self.agent, "name": "Triage Bot", "email": self.credentials["email"], "role": "agent"}
        return [
            ("GET", r"/api/v2/tickets/(\d+)\.json", self.show),
            ("GET", r"/api/v2/tickets/(\d+)/comments\.json", self.comments),
            ("PUT", r"/api/v2/tickets/(\d+)\.json", self.update),
            ("GET", r"/api/v2/groups\.json", self.list_groups),
            ("GET", r"/api/v2/incremental/tickets/cursor\.json", self.export),
            ("GET", r"/api/v2/users/me\.json", lambda m, c: {"user": me}),
        ]

    def live(self, ticket_id: str) -> StoredTicket:
        ticket = self.stored(ticket_id)
        if ticket.deleted:
            raise self.refusal(404, "deleted")
        return ticket

    def user_id(self, email: str) -> int:
        return 10000 + sum(email.encode()) % 5000

    def render(self, t: StoredTicket) -> dict[str, Any]:
        return {
            "id": t.id,
            "url": f"{self.base_url}/api/v2/tickets/{t.id}.json",
            "subject": t.subject,
            "raw_subject": t.subject,
            "description": t.articles[0]["body"] if t.articles else "",
            "status": "deleted" if t.deleted else t.status,
            "priority": t.priority,
            "group_id": self.group_id(t.group),
            "requester_id": self.user_id(t.requester),
            "assignee_id": None,
            "custom_fields": [{"id": int(k), "value": v} for k, v in t.custom.items()],
            "tags": [],
            "via": {"channel": "web"},
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }

    def show(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.live(match[1])
        out: dict[str, Any] = {"ticket": self.render(ticket)}
        if "users" in call.query.get("include", "").split(","):
            out["users"] = [{"id": self.user_id(ticket.requester), "email": ticket.requester, "role": "end-user"}]
        return out

    def listed(self, items: list[Any], call: Call, key: str) -> dict[str, Any]:
        shown, more = self.page(items, call, 100, 100)
        number, size = int(call.query.get("page", "1")), call.query.get("per_page", "100")
        following = f"{self.base_url}{call.path}?page={number + 1}&per_page={size}" if more else None
        return {key: shown, "next_page": following, "previous_page": None, "count": len(items)}

    def comments(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.live(match[1])
        found = [
            {
                "id": a["id"],
                "type": "Comment",
                "author_id": self.agent if a["agent"] else self.user_id(ticket.requester),
                "body": _plain(a["html"]) if "html" in a else a["body"],
                "html_body": a.get("html") or f"<p>{html.escape(a['body'])}</p>",
                "plain_body": _plain(a["html"]) if "html" in a else a["body"],
                "public": not a["internal"],
                "attachments": [],
                "created_at": a["created_at"],
            }
            for a in ticket.articles
        ]
        return self.listed(found, call, "comments")

    def list_groups(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        found = [{"id": i, "name": n, "deleted": False, "default": i == 360001} for i, n in self.groups.items()]
        return self.listed(found, call, "groups")

    def update(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.live(match[1])
        change = call.json.get("ticket")
        if not isinstance(change, dict):
            raise self.refusal(400, "the body needs a ticket object")
        comment = change.get("comment")
        if comment is not None:
            text = comment.get("html_body") or comment.get("body") if isinstance(comment, dict) else None
            if not isinstance(text, str) or not text.strip():
                raise self.refusal(422, "Comment: can't be blank", "comment")
            if not isinstance(comment.get("public", True), bool):
                raise self.refusal(422, "Public: must be true or false", "comment")
        if change.get("priority", ticket.priority) not in self.priorities:
            raise self.refusal(422, "Priority: is not valid", "priority")
        if "group_id" in change and change["group_id"] not in self.groups:
            raise self.refusal(422, "Group: is invalid", "group")
        if change.get("status", ticket.status) not in self.statuses:
            raise self.refusal(422, "Status: is not valid", "status")
        if comment is not None:
            article = self.add_article(ticket, text, internal=not comment.get("public", True), agent=True)
            if comment.get("html_body"):
                article["html"] = comment["html_body"]
        ticket.priority = change.get("priority", ticket.priority)
        ticket.group = self.groups.get(change.get("group_id"), ticket.group) if "group_id" in change else ticket.group
        ticket.status = change.get("status", ticket.status)
        ticket.updated_at = self.now()
        return {"ticket": self.render(ticket), "audit": {"id": self.now().replace(":", "")}}

    def export(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        cursor, start = call.query.get("cursor"), call.query.get("start_time")
        try:
            offset = int(base64.b64decode(cursor).decode().removeprefix("o:")) if cursor else None
            since = int(start) if start is not None else None
        except ValueError:
            raise self.refusal(400, "InvalidPaginationParameter: cursor or start_time is invalid") from None
        if offset is None and (since is None or since < 0):
            raise self.refusal(400, "InvalidPaginationParameter: start_time or cursor is required")
        size = int(call.query.get("per_page", "1000"))
        if not 0 < size <= 1000:
            raise self.refusal(400, "per_page must be between 1 and 1000")
        size = min(size, self.page_size or size)
        items = sorted(self.tickets.values(), key=lambda t: (t.updated_at, t.id))
        if offset is None:
            items = [t for t in items if _when(t.updated_at).timestamp() >= (since or 0)]
            offset = 0
        shown = items[offset : offset + size]
        after = base64.b64encode(f"o:{offset + len(shown)}".encode()).decode()
        return {
            "tickets": [self.render(t) for t in shown],
            "after_cursor": after,
            "after_url": f"{self.base_url}{call.path}?cursor={after}",
            "before_cursor": None,
            "before_url": None,
            "end_of_stream": offset + len(shown) >= len(items),
        }


class FreshdeskStandIn(StandIn):
    """Freshdesk's API v2 (https://developers.freshdesk.com/api/)."""

    kind = "freshdesk"
    groups = {43000001: "Support", 43000002: "Billing"}
    statuses = (2, 3, 4, 5)
    priorities = (1, 2, 3, 4)
    defaults = (2, 1)

    def authorized(self, headers: dict[str, str]) -> bool:
        return self.basic(headers, self.credentials["api_key"], "X")

    def refusal(self, status: int, message: str, field_name: str | None = None) -> Reply:
        if status == 401:
            return Reply(
                401, {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
            )
        if status == 404:
            return Reply(404, None)
        if status == 415:
            return Reply(415, {"code": "invalid_content_type", "message": message})
        errors = [{"field": field_name or "body", "message": message, "code": "invalid_value"}]
        return Reply(400, {"description": "Validation failed", "errors": errors})

    def routes(self) -> list[tuple[str, str, Any]]:
        me = {
            "id": 43000100,
            "type": "support_agent",
            "contact": {"name": "Triage Bot", "email": "triage@example.test"},
        }
        return [
            ("GET", r"/api/v2/tickets", self.list_tickets),
            ("GET", r"/api/v2/tickets/(\d+)", lambda m, c: self.render(self.stored(m[1]), c.query.get("include", ""))),
            ("GET", r"/api/v2/tickets/(\d+)/conversations", self.conversations),
            ("POST", r"/api/v2/tickets/(\d+)/notes", self.add_note),
            ("PUT", r"/api/v2/tickets/(\d+)", self.update),
            (
                "GET",
                r"/api/v2/groups",
                lambda m, c: self.listed([{"id": i, "name": n} for i, n in self.groups.items()], c),
            ),
            ("GET", r"/api/v2/agents/me", lambda m, c: me),
        ]

    def listed(self, items: list[Any], call: Call, most: int = 100) -> Any:
        """A page of a list; a ``Link: <...>; rel="next"`` header says that more follow (raised as the
        answer, to carry the header)."""
        shown, more = self.page(items, call, 30, most)
        if more:
            query = {**call.query, "page": str(int(call.query.get("page", "1")) + 1)}
            link = f'<{self.base_url}{call.path}?{"&".join(f"{k}={v}" for k, v in query.items())}>; rel="next"'
            raise Reply(200, shown, {"link": link})
        return shown

    def render(self, t: StoredTicket, include: str = "") -> dict[str, Any]:
        out = {
            "id": t.id,
            "subject": t.subject,
            "status": t.status,
            "priority": t.priority,
            "group_id": self.group_id(t.group),
            "requester_id": 43000500,
            "responder_id": None,
            "source": 2,
            "type": t.custom.get("type"),
            "custom_fields": {k: v for k, v in t.custom.items() if k != "type"},
            "tags": [],
            "spam": False,
            "created_at": t.created_at,
            "updated_at": t.updated_at,
        }
        if "description" in include.split(",") or not include.startswith("list"):
            first = t.articles[0]["body"] if t.articles else ""
            out.update(description=f"<div>{html.escape(first)}</div>", description_text=first)
        if t.deleted:
            out["deleted"] = True
        if "stats" in include.split(","):
            done = t.status in (4, 5)
            out["stats"] = {"resolved_at": t.updated_at if done else None, "closed_at": None}
        return out

    def conversations(self, match: re.Match[str], call: Call) -> Any:
        ticket = self.stored(match[1])
        found = [
            {
                "id": a["id"],
                "ticket_id": ticket.id,
                "body": a.get("html") or f"<div>{html.escape(a['body'])}</div>",
                "body_text": _plain(a["html"]) if "html" in a else a["body"],
                "incoming": not a["agent"],
                "private": a["internal"],
                "source": 2 if a["internal"] else 0,
                "user_id": 43000100 if a["agent"] else 43000500,
                "created_at": a["created_at"],
                "updated_at": a["created_at"],
            }
            for a in ticket.articles[1:]
        ]
        return self.listed(found, call)

    def add_note(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.stored(match[1])
        note = call.json
        unknown = [k for k in note if k not in ("body", "private", "incoming", "notify_emails", "user_id")]
        if unknown:
            raise self.refusal(400, "Unexpected/invalid field in request", unknown[0])
        if not isinstance(note.get("body"), str) or not note["body"].strip():
            raise self.refusal(400, "It should be a/an String", "body")
        if not isinstance(note.get("private", True), bool):
            raise self.refusal(400, "It should be a/an Boolean", "private")
        article = self.add_article(ticket, _plain(note["body"]), internal=note.get("private", True), agent=True)
        article["html"] = note["body"]
        return {"id": article["id"], "ticket_id": ticket.id, "body": note["body"], "private": article["internal"]}

    def update(self, match: re.Match[str], call: Call) -> dict[str, Any]:
        ticket = self.stored(match[1])
        change = call.json
        unknown = [k for k in change if k not in ("group_id", "priority", "status", "subject", "type", "custom_fields")]
        if unknown:
            raise self.refusal(400, "Unexpected/invalid field in request", unknown[0])
        if "priority" in change and change["priority"] not in self.priorities:
            raise self.refusal(400, "It should be one of these values: '1,2,3,4'", "priority")
        if "group_id" in change and change["group_id"] not in self.groups:
            raise self.refusal(400, "There is no group matching the given group_id", "group_id")
        if "status" in change and change["status"] not in self.statuses:
            raise self.refusal(400, "It should be one of these values: '2,3,4,5'", "status")
        ticket.group = self.groups[change["group_id"]] if "group_id" in change else ticket.group
        ticket.priority = change.get("priority", ticket.priority)
        ticket.status = change.get("status", ticket.status)
        ticket.updated_at = self.now()
        return self.render(ticket)

    def list_tickets(self, match: re.Match[str], call: Call) -> Any:
        q = call.query
        if q.get("order_by", "created_at") not in ("created_at", "due_by", "updated_at", "status"):
            raise self.refusal(
                400, "It should be one of these values: 'created_at,due_by,updated_at,status'", "order_by"
            )
        if q.get("order_type", "desc") not in ("asc", "desc"):
            raise self.refusal(400, "It should be one of these values: 'asc,desc'", "order_type")
        if int(q.get("page", "1")) > 300:
            raise self.refusal(400, "You cannot access tickets beyond the 300th page.", "page")
        found = [t for t in self.tickets.values() if not t.deleted]
        if "updated_since" in q:
            try:
                since = _when(q["updated_since"])
            except ValueError:
                raise self.refusal(400, "It should be in the 'valid date' format", "updated_since") from None
            found = [t for t in found if _when(t.updated_at) >= since]
        key = "updated_at" if q.get("order_by") == "updated_at" else "created_at"
        found.sort(key=lambda t: (getattr(t, key), t.id), reverse=q.get("order_type", "desc") == "desc")
        include = q.get("include", "")
        wrong = [i for i in include.split(",") if i and i not in ("description", "stats", "requester")]
        if wrong:
            raise self.refusal(400, "It should be one of these values: 'description,requester,stats'", "include")
        return self.listed([self.render(t, "list," + include) for t in found], call)


APIS: dict[str, type[StandIn]] = {"zammad": ZammadStandIn, "zendesk": ZendeskStandIn, "freshdesk": FreshdeskStandIn}


def _server(api: StandIn) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _answer(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, body = api.handle(self.command, self.path, headers, raw)
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"content-type": "application/json; charset=utf-8", **extra}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer  # http.server's names

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


@contextmanager
def standin(kind: str) -> Iterator[StandIn]:
    """A running stand-in for the helpdesk ``kind`` (``zammad``, ``zendesk``, ``freshdesk``)."""
    api = APIS[kind]()
    server = _server(api)
    api.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"standin-{kind}", daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
