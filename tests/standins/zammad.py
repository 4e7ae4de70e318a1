"""The Zammad stand-in: its REST API as documented (https://docs.zammad.org/en/latest/api/intro.html)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from typing import Any

from tests.standins.base import Call, Hook, Reply, StandIn, StoredTicket

__all__ = ("ZammadStandIn",)


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

    def webhook(self, ticket_id: str, event: str, secret: str) -> Hook:
        """A trigger named ``helpdesk-triage: ticket <event>`` running a webhook with the default payload (the
        ticket and its latest article), signed ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>``."""
        ticket = self.ticket(ticket_id)
        payload = {
            "ticket": {
                **self.render(ticket, None),
                "group": {"id": self.group_id(ticket.group), "name": ticket.group} if ticket.group else None,
                "priority": {"name": ticket.priority},
                "state": ticket.status,
                "customer": {"login": ticket.requester, "email": ticket.requester},
            },
            "article": self.articles(ticket)[-1],
        }
        body = json.dumps(payload).encode()
        headers = {
            "X-Zammad-Trigger": f"helpdesk-triage: ticket {event}",
            "X-Zammad-Delivery": secrets.token_hex(16),
            "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
        }
        return Hook(body, headers, {})

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
        for name, value in change.items():  # a custom ticket attribute (object manager) is a top-level one
            if name not in ("group", "priority", "state", "title", "article"):
                ticket.custom[name] = value
        ticket.updated_at = self.now()
        return self.render(ticket, None)
