"""Personal data redaction: e-mail addresses, phone numbers, IBANs, payment card numbers (Luhn-checked)
and IP addresses are replaced by placeholders such as ``[EMAIL]``, plus any patterns the operator adds.

Redacted text is what goes into indexes, training sets, evidence snippets and exports; the original
stays in the ticket store. Each kind is validated beyond its shape where it can be (IBAN mod-97, Luhn,
IP octet ranges), so order numbers, dates and versions are left alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from triage.text.texts import ticket_text

__all__ = (
    "BUILTIN_KINDS",
    "DEFAULT_REDACTOR",
    "Finding",
    "Redactor",
    "bundle_redactor",
    "iban_valid",
    "luhn_valid",
    "subject_body_texts",
    "ticket_texts",
)

BUILTIN_KINDS = ("EMAIL", "IBAN", "CARD", "IP", "PHONE")


@dataclass(frozen=True)
class Finding:
    """One redacted span of the original text (its value is never kept)."""

    kind: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum of a payment card number (digits only)."""
    total = 0
    for n, char in enumerate(reversed(digits)):
        d = int(char)
        if n % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN (spaces removed)."""
    iban = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", iban):
        return False
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    return int(digits) % 97 == 1


EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# International (+31 6 1234 5678, 0049 30 123456), national with a leading 0 or area code in brackets
# (06-12345678, 020 123 4567, (030) 1234567) and North American (555-123-4567) numbers.
PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)\d{1,3}(?:[ .\-/]?\(?0?\)?)?(?:[ .\-/]?\d){6,12}(?![\d])"
    r"|(?<![\w+])\(?0\d{1,4}\)?(?:[ .\-/]?\d){6,9}(?![\d])"
    r"|(?<![\w+])\(?\d{3}\)?[ .\-]\d{3}[ .\-]\d{4}(?![\d])"
)


DATE = re.compile(r"\d{1,2}[-./]\d{1,2}[-./]\d{2,4}|\d{4}[-./]\d{1,2}[-./]\d{1,2}")


def _phone(text: str) -> bool:
    return 8 <= len(re.sub(r"\D", "", text)) <= 15 and not DATE.fullmatch(text.strip())


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class Redactor:
    """Replaces personal data with ``[KIND]`` placeholders; ``extra`` adds operator patterns by name.

    >>> Redactor().redact("mail jan@example.nl or call +31 6 1234 5678")[0]
    'mail [EMAIL] or call [PHONE]'
    """

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self.extra = {name.upper(): re.compile(pattern) for name, pattern in (extra or {}).items()}

    def _spans(self, text: str) -> list[Finding]:
        found: list[Finding] = []

        def add(kind: str, pattern: re.Pattern[str], check=lambda value: True) -> None:
            for match in pattern.finditer(text):
                start, end = match.span()
                if any(f.start < end and start < f.end for f in found):
                    continue  # an earlier, more specific kind already covers it
                if check(match.group()):
                    found.append(Finding(kind, start, end))

        for name, pattern in self.extra.items():
            add(name, pattern)
        add("EMAIL", EMAIL)
        add("IBAN", IBAN, iban_valid)
        add("CARD", CARD, lambda value: luhn_valid(re.sub(r"\D", "", value)))
        add("IP", IPV4, _valid_ip)
        add("IP", IPV6, lambda value: value.count(":") >= 2 and _valid_ip(value))
        add("PHONE", PHONE, _phone)
        return sorted(found, key=lambda f: f.start)

    def redact(self, text: str) -> tuple[str, list[Finding]]:
        """The text with every finding replaced by its placeholder, and the findings (in the original)."""
        findings = self._spans(text or "")
        out, last = [], 0
        for f in findings:
            out.append(text[last : f.start])
            out.append(f"[{f.kind}]")
            last = f.end
        out.append((text or "")[last:])
        return "".join(out), findings

    def __call__(self, text: str) -> str:
        """Just the redacted text."""
        return self.redact(text)[0]


def bundle_redactor(manifest: dict) -> Redactor:
    """The redactor a bundle was trained with (its operator patterns are in the manifest), so queries
    are redacted the way its training texts were."""
    return Redactor(manifest.get("redaction", {}).get("operator_patterns"))


DEFAULT_REDACTOR = Redactor()  # the built-in kinds only


def ticket_texts(tickets: Sequence[Any], redactor: Redactor | None = None) -> list[str]:
    """Tickets' subject and body as one text each, redacted (by the built-in kinds unless ``redactor``):
    the texts training encodes, so everything that embeds tickets shares the embedding cache."""
    return subject_body_texts([(t.subject, t.body) for t in tickets], redactor)


def subject_body_texts(pairs: Sequence[tuple[str | None, str | None]], redactor: Redactor | None = None) -> list[str]:
    """:func:`ticket_texts` for ``(subject, body)`` pairs (rows not yet stored as tickets)."""
    redact = redactor or DEFAULT_REDACTOR
    return [redact(ticket_text(subject, body)) for subject, body in pairs]
