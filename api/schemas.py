"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import Parameter

__all__ = (
    "MAX_ROW_ID",
    "LIMIT",
    "OFFSET",
    "ROW_ID",
    "ArticleIn",
    "ArticleOut",
    "ArticlePage",
    "ArticleUpdate",
    "PortalEventIn",
    "ResponseIn",
    "SuggestIn",
    "TicketIn",
    "TicketPage",
    "TicketPatch",
    "TicketResolve",
    "TicketOut",
)

MAX_ROW_ID = 2_147_483_647  # the largest id a 32-bit integer column holds (PostgreSQL's "integer")
ROW_ID = Parameter(ge=1, le=MAX_ROW_ID, description="A row id.")
OFFSET = Parameter(default=0, ge=0, le=10_000_000, description="How many items to skip.")
LIMIT = Parameter(default=50, ge=1, le=200, description="How many items a page holds.")

Text = Annotated[str, msgspec.Meta(max_length=20_000)]
Short = Annotated[str, msgspec.Meta(max_length=1_000)]
TopK = Annotated[int, msgspec.Meta(ge=1, le=50)]
Slug = Annotated[str, msgspec.Meta(max_length=200)]
Tag = Annotated[str, msgspec.Meta(max_length=100)]


class SuggestIn(msgspec.Struct, forbid_unknown_fields=True):
    """A ticket or draft to suggest for: subject and/or body."""

    subject: Short | None = None
    body: Text | None = None
    top_k: TopK | None = None


class PortalEventIn(msgspec.Struct, forbid_unknown_fields=True):
    """What the customer did with a portal suggestion; ``article`` is the slug the event is about."""

    suggestion_id: Annotated[str, msgspec.Meta(max_length=64)]
    type: Annotated[str, msgspec.Meta(max_length=20)]
    article: Slug | None = None


class TicketIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new ticket."""

    subject: Short | None = None
    body: Text | None = None
    requester: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    channel: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    language: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    external_id: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    priority: Annotated[str, msgspec.Meta(max_length=50)] | None = None  # set by the requester or helpdesk


class ResponseIn(msgspec.Struct, forbid_unknown_fields=True):
    """An agent's answer to the requester, made in the helpdesk (or by phone or mail): when (now if
    omitted), who, and optionally what was said."""

    at: datetime | None = None
    author: Annotated[str, msgspec.Meta(max_length=320)] | None = None
    body: Text | None = None


Label = Annotated[str, msgspec.Meta(max_length=200)]
Actor = Annotated[str, msgspec.Meta(max_length=200)]
FieldName = Annotated[str, msgspec.Meta(max_length=20)]
Labels = Annotated[dict[FieldName, Label], msgspec.Meta(max_length=12)]  # the fields a deployment added


class TicketPatch(msgspec.Struct, forbid_unknown_fields=True):
    """An agent's change: labels to set or override and/or a status move; ``actor`` says who."""

    category: Label | None = None
    priority: Label | None = None
    assignee: Label | None = None
    labels: Labels | None = None
    status: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    actor: Actor | None = None


class TicketResolve(msgspec.Struct, forbid_unknown_fields=True):
    """Resolving a ticket: what was done, the final labels (omitted ones keep their value) and the
    articles that helped."""

    resolution: Text
    category: Label | None = None
    priority: Label | None = None
    assignee: Label | None = None
    labels: Labels | None = None
    helped_articles: Annotated[list[Slug], msgspec.Meta(max_length=20)] = []
    actor: Actor | None = None


class ArticleIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new article; ``body`` is Markdown."""

    slug: Slug
    title: Short
    body: str  # the size limit is the KB's (413), inside the request limit
    language: Annotated[str, msgspec.Meta(max_length=16)] = "en"
    status: Annotated[str, msgspec.Meta(max_length=20)] = "draft"
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] = []


class ArticleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A new revision of an article; omitted metadata keeps its current value."""

    title: Short
    body: str  # the size limit is the KB's (413), inside the request limit
    slug: Slug | None = None
    language: Annotated[str, msgspec.Meta(max_length=16)] | None = None
    status: Annotated[str, msgspec.Meta(max_length=20)] | None = None
    tags: Annotated[list[Tag], msgspec.Meta(max_length=50)] | None = None


@dataclass
class ArticleOut:
    """An article with its current revision as Markdown and as safe HTML."""

    slug: str
    title: str
    language: str
    status: str
    tags: list[str]
    revision: int
    body_markdown: str
    html: str
    created_at: datetime
    updated_at: datetime


@dataclass
class ArticlePage:
    """One page of articles."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@dataclass
class TicketPage:
    """One page of tickets (without bodies), newest first."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


@dataclass
class TicketOut:
    """A stored ticket with the latest suggestion made for it."""

    id: int
    external_id: str | None
    subject: str
    body: str
    requester: str | None
    channel: str | None
    language: str | None
    status: str
    category: str | None
    priority: str | None
    assignee: str | None
    resolution: str | None
    helped_articles: list[str]
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    suggestion: dict[str, Any] | None
    merged_into_id: int | None = None
    requester_notified_at: datetime | None = None
    sla: dict[str, Any] | None = None  # due times, state and breach risk; None until an SLA policy is saved
    labels: dict[str, str | None] | None = None  # every triage field in force and its label
