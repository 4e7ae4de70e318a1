"""Mail: the messages of a ticket's thread (the full original beside the text that was encoded), and one
row per inbound mail processed, whatever became of it, keyed by its Message-ID so that no mail is
processed twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JSONType, utcnow

__all__ = ("MAIL_OUTCOMES", "InboundMail", "TicketMessage")

MAIL_OUTCOMES = ("ticket", "reply", "ignored", "quarantined")


class TicketMessage(Base):
    """One message on a ticket's thread: the mail that opened it, a reply, or an acknowledgement sent."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(40), default="email")
    direction: Mapped[str] = mapped_column(String(10), default="in")  # in, out
    kind: Mapped[str] = mapped_column(String(30), default="message")  # message, acknowledgement
    author: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(1000), default="")
    body: Mapped[str] = mapped_column(Text, default="")  # quoted text and signature stripped: what is encoded
    original: Mapped[str] = mapped_column(Text, default="")  # the full text as received
    message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    references: Mapped[list[str]] = mapped_column(JSONType, default=list)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class InboundMail(Base):
    """What became of one inbound mail: a ticket, a reply on one, ignored (auto-generated) or quarantined
    (with the reason and the first bytes of the raw message)."""

    __tablename__ = "inbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_key: Mapped[str] = mapped_column(String(998), unique=True)
    mailbox: Mapped[str] = mapped_column(String(400), default="")
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str | None] = mapped_column(Text)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), index=True)
    sender: Mapped[str | None] = mapped_column(String(320), index=True)
    subject: Mapped[str | None] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(Integer, default=0)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)  # quarantined mail only, cut to a limit
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
