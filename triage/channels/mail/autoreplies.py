"""Telling auto-generated mail (bounces, out-of-office replies, list mail, other robots) from people's mail.

Pure functions over header values; ``parsing`` calls :func:`auto_generated_reason` for every message. The
checks, first match wins: a delivery report (``bounce``), an absence notice (``out-of-office``), bulk or list
precedence (``mailing-list``), an ``Auto-Submitted`` header (``auto-submitted``), and last an empty
``Return-Path`` (``bounce``: the null sender that delivery reports use, RFC 5321 4.5.5)."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ("REASONS", "auto_generated_reason")

REASONS = ("bounce", "out-of-office", "mailing-list", "auto-submitted")

_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon"})
_DSN_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|fail|has failed|notification|report)|returned mail|mail delivery"
    r"|failure notice|could not be delivered|non[- ]?delivery|unzustellbar|nicht zugestellt|onbestelbaar"
    r"|niet bezorgd|non remis|échec de (?:la )?remise",
    re.IGNORECASE,
)
# an absence notice names itself at the start of the subject, then a colon or nothing more ("Automatic reply:
# VPN broken", "Abwesenheitsnotiz"); "Out of office message does not work" is a person asking for help
_ABSENCE_SUBJECT = re.compile(
    r"^\s*(?:out of (?:the )?office(?: auto-?reply)?|automatic reply|auto-?reply|auto(?=\s*:)"
    r"|abwesenheitsnotiz|abwesend|automatische antwort|afwezig|automatisch antwoord|afwezigheidsbericht"
    r"|réponse automatique|absence)\s*(?::|$)",
    re.IGNORECASE,
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|antw|sv|vs|réf)\s*:", re.IGNORECASE)
_BULK = frozenset({"bulk", "list", "junk"})


def _token(value: str | None) -> str | None:
    """A header value's first token, lower-cased, without parameters or comments (``None`` when absent)."""
    if value is None:
        return None
    return re.split(r"[;(\s]", value.strip(), maxsplit=1)[0].lower()


def _is_bounce(content_type: str, report_type: str, sender: str | None, subject: str) -> bool:
    if content_type == "multipart/report" and report_type.lower() == "delivery-status":
        return True
    local = (sender or "").partition("@")[0]
    return local in _DAEMONS and bool(_DSN_SUBJECT.search(subject))


def _is_absence(headers: Mapping[str, str], subject: str, is_reply: bool) -> bool:
    if "x-autoreply" in headers or "x-autorespond" in headers:
        return True
    suppress = {word.strip().lower() for word in headers.get("x-auto-response-suppress", "").split(",")}
    if suppress & {"oof", "all"} and (is_reply or _REPLY_PREFIX.match(subject) or _ABSENCE_SUBJECT.match(subject)):
        return True
    return bool(_ABSENCE_SUBJECT.match(subject))


def auto_generated_reason(
    headers: Mapping[str, str],
    *,
    content_type: str = "text/plain",
    report_type: str = "",
    sender: str | None = None,
    subject: str = "",
    is_reply: bool = False,
) -> str | None:
    """Why a message was written by a machine, or ``None`` for a person's message.

    Args:
        headers: the message's header values by lower-case name (the first of each, unfolded).
        content_type: the message's content type, lower case (``multipart/report`` for delivery reports).
        report_type: the ``report-type`` parameter of a ``multipart/report``.
        sender: the ``From`` address, lower case.
        subject: the decoded subject.
        is_reply: whether the message answers another (``In-Reply-To`` or ``References``).

    Returns:
        One of :data:`REASONS`, or ``None``.
    """
    if _is_bounce(content_type, report_type, sender, subject):
        return "bounce"
    if _is_absence(headers, subject, is_reply):
        return "out-of-office"
    if _token(headers.get("precedence")) in _BULK:
        return "mailing-list"
    auto_submitted = _token(headers.get("auto-submitted"))
    if auto_submitted is not None and auto_submitted != "no":
        return "auto-submitted"
    if "return-path" in headers and re.fullmatch(r"\s*<\s*>\s*", headers["return-path"]):
        return "bounce"
    return None
