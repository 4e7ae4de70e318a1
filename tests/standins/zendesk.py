"""The Zendesk stand-in: its Support API as documented (https://developer.zendesk.com/api-reference/)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.standins.base import Call, Hook, Reply, StandIn, StoredTicket, plain, when

__all__ = ("ZendeskStandIn",)


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

    def webhook(self, ticket_id: str, event: str, secret: str) -> Hook:
        """A trigger's JSON webhook, ``{"ticket_id": "{{ticket.id}}", "event": "<event>"}``, signed
        ``X-Zendesk-Webhook-Signature``: base64 HMAC-SHA256 of the timestamp header and the body."""
        body = json.dumps({"ticket_id": str(self.ticket(ticket_id).id), "event": event}).encode()
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()
        headers = {
            "X-Zendesk-Webhook-Id": "01HZTRIAGE0000000000000000",
            "X-Zendesk-Webhook-Invocation-Id": str(secrets.randbelow(10**10)),
            "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        }
        return Hook(body, headers, {})

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
                "body": plain(a["html"]) if "html" in a else a["body"],
                "html_body": a.get("html") or f"<p>{html.escape(a['body'])}</p>",
                "plain_body": plain(a["html"]) if "html" in a else a["body"],
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
        for custom in change.get("custom_fields") or []:  # [{"id": 360..., "value": ...}]
            if not isinstance(custom, dict) or not isinstance(custom.get("id"), int):
                raise self.refusal(422, "Custom fields: is invalid", "custom_fields")
            ticket.custom[str(custom["id"])] = custom.get("value")
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
            items = [t for t in items if when(t.updated_at).timestamp() >= (since or 0)]
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
