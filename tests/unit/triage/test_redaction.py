"""Personal data redaction on realistic English, Dutch and German helpdesk text."""

from __future__ import annotations

import pytest

from triage.text.redaction import Redactor, iban_valid, luhn_valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # English
        (
            "Hi, I'm Karen (karen.whitfield@example.co.uk), call me on +44 20 7946 0958 about order 4471822.",
            "Hi, I'm Karen ([EMAIL]), call me on [PHONE] about order 4471822.",
        ),
        (
            "Card 4111 1111 1111 1111 was charged twice on 2025-01-09; my US line is (555) 123-4567.",
            "Card [CARD] was charged twice on 2025-01-09; my US line is [PHONE].",
        ),
        (
            "VPN from 203.0.113.42 fails, the gateway 2001:db8::8a2e:370:7334 is fine, client v5.1.2.",
            "VPN from [IP] fails, the gateway [IP] is fine, client v5.1.2.",
        ),
        # Dutch
        (
            "Mijn IBAN is NL91 ABNA 0417 1643 00, bel me op 06-12345678 of mail tim.hendriks@example.nl.",
            "Mijn IBAN is [IBAN], bel me op [PHONE] of mail [EMAIL].",
        ),
        (
            "Outlook haalt geen mail op sinds 09-01-2025, ticket KS-10001, tel. 020 123 4567.",
            "Outlook haalt geen mail op sinds 09-01-2025, ticket KS-10001, tel. [PHONE].",
        ),
        # German
        (
            "Bitte überweisen Sie auf DE89 3704 0044 0532 0130 00, Rückruf unter +49 (0)30 12345678.",
            "Bitte überweisen Sie auf [IBAN], Rückruf unter [PHONE].",
        ),
        (
            "Meine Kreditkarte 5500-0000-0000-0004 wurde gesperrt, E-Mail: jürgen.müller@beispiel.de",
            "Meine Kreditkarte [CARD] wurde gesperrt, E-Mail: [EMAIL]",
        ),
    ],
)
def test_personal_data_is_replaced_and_the_rest_kept(text, expected):
    assert Redactor()(text) == expected


def test_checks_reject_look_alikes():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("NL91 ABNA 0417 1643 00") and not iban_valid("NL92 ABNA 0417 1643 00")
    redact = Redactor()
    assert redact("Card 4111 1111 1111 1112 is not a card number") == "Card 4111 1111 1111 1112 is not a card number"
    assert redact("Not an IP: 300.1.2.3, version 10.0.19045") == "Not an IP: 300.1.2.3, version 10.0.19045"
    assert redact("Order 4471822 of 12 March, room 2.14") == "Order 4471822 of 12 March, room 2.14"


def test_operator_patterns_and_findings():
    redact = Redactor({"employee_id": r"\bEMP-\d{6}\b"})
    text, findings = redact.redact("EMP-123456 at jan@example.nl")
    assert text == "[EMPLOYEE_ID] at [EMAIL]"
    assert [(f.kind, f.start, f.end) for f in findings] == [("EMPLOYEE_ID", 0, 10), ("EMAIL", 14, 28)]
    assert redact.redact("") == ("", [])
