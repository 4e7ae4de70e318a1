"""Raw inbound mail to a :class:`ParsedMail`, or a :class:`MailParseError` that says why it cannot be a ticket.

The standard library's ``email`` (``policy.default``) reads the message; an HTML-only message becomes text with
inscriptis; mail-parser-reply cuts quoted replies and signatures off the reply. Whatever the bytes, the answer
is a ``ParsedMail`` or a ``MailParseError``, never another exception."""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value, getaddresses, parsedate_to_datetime

from inscriptis import get_text
from mailparser_reply import EmailMessage as _ReplySplitter

from triage.channels.mail.autoreplies import auto_generated_reason

__all__ = ("Attachment", "MailParseError", "ParsedMail", "parse_mail", "ticket_token", "token_subject")

REPLY_LANGUAGES = ("en", "de", "nl", "fr")  # the languages whose "On ... wrote:" and sign-offs are recognised
MAX_IDS = 100  # of a longer References header, the first id and the last 99 are kept (as RFC 5322 3.6.4 trims)
_LONG_LINE = re.compile(r"^[^\n]{500,}$", re.MULTILINE)  # hidden from the reply splitter, whose regexes are
_HIDDEN = re.compile(r"\ue000(\d+)\ue001")  # quadratic in a line's length ("Op a a a ...": minutes at 50 kB)
_QUOTED_LINE = re.compile(r"^>.*(?:\n|$)", re.MULTILINE)
_ID = re.compile(r"<([^<>]{1,990})>")
_ADDRESS = re.compile(r"[^\s@<>]+@[^\s@<>]+")
_TOKEN = re.compile(r"\[#(\d{1,18})\]")
_UNLABELLED = ("utf-8", "cp1252")  # text without a charset, or labelled ASCII, is mostly UTF-8, else Windows'
_LATIN1 = ("cp1252", "latin-1")  # what mail labelled Latin-1 mostly is (Windows-1252, as browsers read it)
_LATIN1_NAMES = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin-1", "latin1", "l1", "cp819"})
_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")  # lone surrogates that are not escaped raw bytes
_MAX_DEPTH = 40  # multiparts nested deeper than this are not searched for attachments


@dataclass(frozen=True)
class Attachment:
    """A part of the message that is not its text: a file or an inline image (its content is not kept)."""

    filename: str  # "" when the part names none
    content_type: str
    size: int  # decoded bytes


@dataclass(frozen=True)
class ParsedMail:
    """What a ticket needs from one inbound message."""

    message_id: str
    sender: str | None
    sender_name: str | None
    subject: str
    text: str
    reply_text: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    attachments: tuple[Attachment, ...]
    auto_generated: str | None
    date: datetime | None
    size: int


class MailParseError(ValueError):
    """A message that cannot become a ticket.

    ``reason`` is a short machine word (``too-large``, ``no-sender``, ``no-text``, ``unparsable-headers``,
    ``undecodable``); ``str(error)`` is a sentence for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_mail(raw: bytes, *, max_bytes: int = 25 * 1024 * 1024, max_text_chars: int = 100_000) -> ParsedMail:
    """Parse one raw RFC 5322 message.

    Args:
        raw: the message as received (CRLF or LF line ends).
        max_bytes: a longer message is refused before it is parsed (``too-large``).
        max_text_chars: the text is cut to this many characters.

    Raises:
        MailParseError: the message cannot become a ticket; ``reason`` says why.
    """
    raw = raw if isinstance(raw, bytes) else bytes(raw)
    if len(raw) > max_bytes:
        raise MailParseError("too-large", f"The message has {len(raw):,} bytes, more than the {max_bytes:,} allowed.")
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        headers = _headers(message)
        subject = _subject(message, headers)
        in_reply_to, references = _ids(headers.get("in-reply-to", "")), _ids(headers.get("references", ""))
        content_type = message.get_content_type()
        report_type = collapse_rfc2231_value(message.get_param("report-type", "") or "")
    except Exception as error:
        raise MailParseError("unparsable-headers", f"The message's headers cannot be read ({error!r}).") from error
    if not headers:
        raise MailParseError("unparsable-headers", "The message has no headers; it is not an e-mail.")
    sender, sender_name = _sender(message, headers)
    try:
        leaves = _leaves(message)
        text, body = _text(leaves, max_text_chars)
        attachments = _attachments(leaves, body)
    except Exception as error:
        raise MailParseError("undecodable", f"The message's body cannot be decoded ({error!r}).") from error
    if not text and not subject:
        raise MailParseError("no-text", "The message has neither a subject nor any text.")
    return ParsedMail(
        message_id=_message_id(headers.get("message-id", ""), raw),
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        text=text,
        reply_text=_reply_text(text),
        in_reply_to=in_reply_to,
        references=references,
        attachments=attachments,
        auto_generated=auto_generated_reason(
            headers,
            content_type=content_type,
            report_type=str(report_type),
            sender=sender,
            subject=subject,
            is_reply=bool(in_reply_to or references),
        ),
        date=_date(headers.get("date", "")),
        size=len(raw),
    )


def ticket_token(subject: str) -> int | None:
    """The ticket id of a ``[#123]`` token in ``subject`` (the last one, where the desk puts it), else ``None``."""
    found = _TOKEN.findall(subject or "")
    return int(found[-1]) if found and int(found[-1]) > 0 else None


def token_subject(subject: str, ticket_id: int) -> str:
    """``subject`` with the ``[#id]`` token of ``ticket_id`` appended, unless it is already there."""
    token = f"[#{ticket_id}]"
    subject = " ".join((subject or "").split())
    return subject if token in subject else f"{subject} {token}".strip()


def _safe(text: str) -> str:
    """Text that can be stored anywhere: raw 8-bit bytes read as UTF-8 (else Windows-1252), no NUL or surrogate."""
    data = _SURROGATE.sub("\ufffd", text).encode("utf-8", "surrogateescape")  # the escapes are raw bytes
    with suppress(UnicodeDecodeError):
        return data.decode("utf-8").replace("\x00", "")
    return data.decode("cp1252", "replace").replace("\x00", "")


def _headers(message: Message) -> dict[str, str]:
    """The first value of each header by lower-case name, unfolded, as safe text."""
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        headers.setdefault(str(name).strip().lower(), _safe(re.sub(r"\r?\n(?=[ \t])", "", str(value))).strip())
    return headers


def _subject(message: Message, headers: dict[str, str]) -> str:
    value = headers.get("subject", "")
    with suppress(Exception):
        value = str(message["Subject"] or "")  # decodes RFC 2047 words
    return " ".join(_safe(value).split())


def _sender(message: Message, headers: dict[str, str]) -> tuple[str, str | None]:
    """The ``From`` address (lower case) and display name; the raw header is read when the parsed one fails."""
    candidates = []
    with suppress(Exception):
        candidates += [(a.display_name, a.addr_spec) for a in message["From"].addresses]
    with suppress(Exception):
        candidates += getaddresses([headers.get("from", "")])
    for name, address in candidates:
        address = _safe(str(address)).strip().lower()
        if _ADDRESS.fullmatch(address):
            return address, " ".join(_safe(str(name)).split()) or None
    raise MailParseError("no-sender", "The message has no From address that can be read.")


def _ids(value: str) -> tuple[str, ...]:
    ids = list(dict.fromkeys(f"<{''.join(found.split())}>" for found in _ID.findall(value)))
    return tuple(ids if len(ids) <= MAX_IDS else ids[:1] + ids[-(MAX_IDS - 1) :])


def _message_id(value: str, raw: bytes) -> str:
    ids = _ids(value)
    if ids:
        return ids[0]
    bare = re.sub(r"[\s<>]", "", value)[:990]
    return f"<{bare}>" if bare else f"<sha256-{hashlib.sha256(raw).hexdigest()}@helpdesk.invalid>"


def _date(value: str) -> datetime | None:
    with suppress(Exception):
        when = parsedate_to_datetime(value)
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)  # "-0000": UTC, source unknown
    return None


def _decode(part: Message) -> str:
    """A text part's content: its charset, else UTF-8, else Windows-1252 (what mislabelled mail mostly is)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = (part.get_content_charset() or "").strip().lower()
    names = _UNLABELLED if charset in ("", "us-ascii", "ascii") else _LATIN1 if charset in _LATIN1_NAMES else (charset,)
    names += ("utf-8",)
    for name, errors in [(name, errors) for errors in ("strict", "replace") for name in names]:
        with suppress(LookupError, UnicodeError, ValueError, TypeError):
            return data.decode(name, errors)
    return data.decode("latin-1")


def _html_to_text(html: str, limit: int) -> str:
    html = html[: max(limit * 20, 1_000_000)]
    try:
        text = get_text(html)
    except Exception:
        text = re.sub(r"<[^>]*>", " ", html)
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text)


def _leaves(message: Message) -> list[Message]:
    """The message's parts that are not multiparts, in order; an attached message is one part (not opened)."""
    leaves, stack = [], [(message, 0)]
    while stack:
        part, depth = stack.pop()
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            inner = [p for p in part.get_payload() if isinstance(p, Message)] if depth < _MAX_DEPTH else []
            stack.extend((p, depth + 1) for p in reversed(inner))
        else:
            leaves.append(part)
    return leaves


def _first(parts: list[Message], content_type: str) -> Message | None:
    """The first part of this type, preferring one without a file name (a named one is more likely a file)."""
    typed = [part for part in parts if part.get_content_type() == content_type]
    return next((part for part in typed if not part.get_filename()), typed[0] if typed else None)


def _text(leaves: list[Message], limit: int) -> tuple[str, list[Message]]:
    """The message's text (its first plain part, else its first HTML part as text) and its body parts."""
    inline = [part for part in leaves if part.get_content_disposition() != "attachment"]
    plain, html = _first(inline, "text/plain"), _first(inline, "text/html")
    text = _decode(plain) if plain is not None else ""
    if not text.strip() and html is not None:
        text = _html_to_text(_decode(html), limit)
    text = _safe(text.replace("\r\n", "\n").replace("\r", "\n")).strip()[:limit].rstrip()
    return text, [part for part in (plain, html) if part is not None]


def _size(part: Message) -> int:
    with suppress(Exception):
        if part.get_content_maintype() == "message":
            return sum(len(inner.as_bytes()) for inner in part.get_payload())
        data = part.get_payload(decode=True)
        return len(data) if isinstance(data, bytes) else 0
    return 0


def _attachments(leaves: list[Message], body: list[Message]) -> tuple[Attachment, ...]:
    """Every part but the body with a file name or ``Content-Disposition: attachment``, in message order."""
    found = []
    for part in (leaf for leaf in leaves if all(leaf is not b for b in body)):
        filename = part.get_filename()
        if filename or part.get_content_disposition() == "attachment":
            name = " ".join(_safe(str(filename or "")).split())
            found.append(Attachment(filename=name, content_type=part.get_content_type(), size=_size(part)))
    return tuple(found)


def _reply_text(text: str) -> str:
    """``text`` without quoted replies and signatures; ``text`` itself when nothing would be left."""
    hidden: list[str] = []

    def hide(line: re.Match[str]) -> str:
        hidden.append(line.group().strip())
        return f"\ue000{len(hidden) - 1}\ue001"

    try:
        split = _ReplySplitter(text=_LONG_LINE.sub(hide, text), languages=list(REPLY_LANGUAGES), keep_hyphen_lists=True)
        replies = split.read().replies
        reply = replies[0].body if replies else ""
    except Exception:
        return text
    reply = _QUOTED_LINE.sub("", reply)
    reply = _HIDDEN.sub(lambda m: hidden[int(m[1])] if int(m[1]) < len(hidden) else m[0], reply)
    return re.sub(r"\n{3,}", "\n\n", reply).strip() or text
