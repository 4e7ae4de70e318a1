"""Inbound mail parsing on hand-written MIME fixtures (tests/data/mail/): text decoded from every charset and
transfer encoding, the reply without its quote and signature, thread ids, attachments, auto-generated mail,
the ticket token; and no input bytes ever raise anything but a MailParseError."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.mailserver import MAIL_FIXTURES, big_message, fixture_mail
from triage.channels.mail.autoreplies import auto_generated_reason
from triage.channels.mail.parsing import Attachment, MailParseError, parse_mail, ticket_token, token_subject

PARSEABLE = [name for name in MAIL_FIXTURES if name != "malformed"]


def parsed(name: str):
    return parse_mail(fixture_mail(name))


def test_every_fixture_parses_with_a_unique_message_id():
    mails = {name: parsed(name) for name in PARSEABLE}
    assert len(PARSEABLE) == 13
    assert len({m.message_id for m in mails.values()}) == len(mails)
    for name, mail in mails.items():
        assert mail.message_id.startswith("<") and mail.message_id.endswith(">"), name
        assert mail.sender and mail.sender == mail.sender.lower(), name
        assert mail.text and "\r" not in mail.text, name
        assert mail.date is not None and mail.date.tzinfo is not None, name
        assert mail.size == len(fixture_mail(name)), name


def test_plain_utf8():
    mail = parsed("plain")
    assert mail.message_id == "<first-vpn@example.org>"
    assert (mail.sender, mail.sender_name) == ("anna.schmidt@example.org", "Anna Schmidt")
    assert mail.subject == "VPN disconnects every few minutes"  # folded header, whitespace collapsed
    assert "customer call at 14:00 \u2014 it's rather urgent" in mail.text
    assert mail.text.startswith("Hello,\n\nsince this morning")
    assert "- restarted the laptop\n- switched from Wi-Fi" in mail.reply_text  # a list is not a signature
    assert mail.reply_text.endswith("Anna")
    assert mail.date == datetime(2024, 6, 3, 9, 14, 22, tzinfo=timezone(timedelta(hours=2)))
    assert (mail.in_reply_to, mail.references, mail.attachments, mail.auto_generated) == ((), (), (), None)


def test_html_only_becomes_text():
    mail = parsed("html_only")
    assert 'shows "Paper jam in tray 2", but there is no paper stuck anywhere.' in mail.text
    assert "3rd floor (HP LaserJet M607, PRN-3F-01)" in mail.text
    assert "* opened and closed all trays" in mail.text
    for markup in ("<", "&quot;", "&nbsp;", "alert", "ignored", "margin"):
        assert markup not in mail.text
    assert mail.date == datetime(2024, 6, 4, 11, 2, 10, tzinfo=UTC)


def test_alternative_takes_the_plain_part():
    mail = parsed("alternative")
    assert "Bjorn (plain part)" in mail.text and "html part" not in mail.text
    assert (mail.sender, mail.sender_name) == ("bjoern.meyer@example.net", "Björn Meyer")  # RFC 2047 name
    assert mail.attachments == ()


@pytest.mark.parametrize(
    ("name", "subject", "phrases"),
    [
        (
            "quoted_printable",
            "Drucker druckt nur leere Seiten",
            ["im Großraumbüro (2. OG, Gerät PRN-2OG-04) druckt seit", "im März", "Könnt ihr", "Markus Müller"],
        ),
        ("base64", "Invoice INV-2024-0457 lists too many licences", ["The total is 1.440,00 € instead of 1.200,00 €"]),
        (
            "latin1_dutch",
            "Financiële rapportage: export geëindigd met fout",
            ["de financiële rapportage", "café-omzet", "geëxporteerd", "ideeën?"],
        ),
        (
            "utf8_german",
            "Passwort zurücksetzen für Außendienst-Portal",
            ["Außendienst-Portal anmelden", "Rücksetz-Mail", "Können Sie", "Büro Köln", "Jürgen Weiß"],
        ),
    ],
)
def test_charsets_and_transfer_encodings(name, subject, phrases):
    mail = parsed(name)
    assert mail.subject == subject
    for phrase in phrases:
        assert phrase in mail.text
    assert "\ufffd" not in mail.text and "Ã" not in mail.text


def test_sign_offs_are_cut_in_dutch_and_german():
    dutch, german = parsed("latin1_dutch"), parsed("utf8_german")
    assert dutch.reply_text.endswith("Hebben jullie ideeën?") and "Met vriendelijke groet" in dutch.text
    assert german.reply_text.endswith("Büro Köln.") and "Mit freundlichen Grüßen\nJürgen Weiß" in german.text
    assert parsed("utf8_german").sender_name == "Jürgen Weiß"


def test_attachments_are_recorded_with_their_decoded_sizes():
    mail = parsed("attachment")
    assert mail.attachments == (
        Attachment(filename="screenshot.png", content_type="image/png", size=69),  # inline, in multipart/related
        Attachment(filename="INV-2024-0457-corrected.pdf", content_type="application/pdf", size=218),
    )
    assert mail.text.startswith("Hello again,") and "iVBOR" not in mail.text


def test_reply_keeps_the_original_but_strips_quote_and_signature():
    mail = parsed("reply")
    assert mail.in_reply_to == ("<first-vpn@example.org>",) and mail.references == ("<first-vpn@example.org>",)
    assert mail.in_reply_to[0] == parsed("plain").message_id
    assert mail.subject == "Re: VPN disconnects every few minutes"
    assert mail.reply_text == (
        "Hi again,\n\nthe VPN dropped three more times in the last hour, now also on the cable.\n"
        'The client log says "IKE SA expired" right before each drop.\n\nAnna'
    )
    for original in ("-- \nAnna Schmidt\nSales Operations", "wrote:\n> Hello,", "> since this morning"):
        assert original in mail.text


def test_reply_by_token_strips_an_outlook_style_quote():
    mail = parsed("reply_token")
    assert (mail.in_reply_to, mail.references) == ((), ())
    assert ticket_token(mail.subject) == 1
    assert mail.reply_text.endswith("still drops\nafter a few minutes.")
    assert "GlobalProtect 6.2.1" not in mail.reply_text and "GlobalProtect 6.2.1" in mail.text


@pytest.mark.parametrize(
    ("name", "reason"),
    [("out_of_office", "out-of-office"), ("bounce", "bounce"), ("list", "mailing-list")]
    + [(name, None) for name in ("plain", "reply", "reply_token", "html_only", "attachment", "utf8_german")],
)
def test_auto_generated_reasons(name, reason):
    assert parsed(name).auto_generated == reason


def test_a_bounce_keeps_its_report_text_and_does_not_open_the_returned_message():
    mail = parsed("bounce")
    assert mail.sender == "mailer-daemon@mx.example.org"
    assert "Recipient address rejected" in mail.text and "docking station" not in mail.text
    assert mail.attachments == ()


@pytest.mark.parametrize(
    ("headers", "extra", "reason"),
    [
        ({"auto-submitted": "auto-generated"}, {}, "auto-submitted"),
        ({"auto-submitted": "auto-replied; owner-email=x@example.org"}, {}, "auto-submitted"),
        ({"auto-submitted": "No"}, {}, None),
        ({"x-autorespond": "yes"}, {}, "out-of-office"),
        ({"x-auto-response-suppress": "DR, OOF"}, {"is_reply": True}, "out-of-office"),
        ({"x-auto-response-suppress": "All"}, {"subject": "RE: printer"}, "out-of-office"),
        ({"x-auto-response-suppress": "All"}, {"subject": "New laptop request"}, None),
        ({"precedence": "list"}, {}, "mailing-list"),
        ({"precedence": "junk"}, {}, "mailing-list"),
        ({"list-id": "<staff.lists.example.org>"}, {}, None),
        ({"return-path": "<>"}, {}, "bounce"),
        ({}, {"content_type": "multipart/report", "report_type": "delivery-status"}, "bounce"),
        ({}, {"content_type": "multipart/report", "report_type": "disposition-notification"}, None),
        ({}, {"sender": "postmaster@example.org", "subject": "Delivery Status Notification (Failure)"}, "bounce"),
        ({}, {"sender": "postmaster@example.org", "subject": "Question about the quota"}, None),
        ({}, {"subject": "Out of Office: back on Monday"}, "out-of-office"),
        ({}, {"subject": "Auto: printer"}, "out-of-office"),
        ({}, {"subject": "Abwesenheitsnotiz: Drucker"}, "out-of-office"),
        ({}, {"subject": "Automatische Antwort: VPN"}, "out-of-office"),
        ({}, {"subject": "Afwezig"}, "out-of-office"),
        ({}, {"subject": "Automatisch antwoord: wachtwoord"}, "out-of-office"),
        ({}, {"subject": "Out of office message does not work in Outlook"}, None),
        ({}, {"subject": "Automatic replies are not sent"}, None),
    ],
)
def test_auto_generated_rules(headers, extra, reason):
    assert auto_generated_reason(headers, **extra) == reason


def test_malformed_raises_with_a_reason():
    with pytest.raises(MailParseError) as caught:
        parsed("malformed")
    assert caught.value.reason == "no-sender" and str(caught.value)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "unparsable-headers"),
        (b"\x00\xff garbage without any header\n\nbody\n", "unparsable-headers"),
        (b"Subject: no sender\n\nhello\n", "no-sender"),
        (b"From: nobody-at-all\nSubject: bad sender\n\nhello\n", "no-sender"),
        (b"From: a@example.org\nMessage-ID: <x@y>\n\n  \n", "no-text"),
        (b"From: a@example.org\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0K\n", "no-text"),
    ],
)
def test_errors(raw, reason):
    with pytest.raises(MailParseError) as caught:
        parse_mail(raw)
    assert caught.value.reason == reason


def test_too_large_is_refused_before_parsing_and_big_mail_parses():
    raw = big_message()
    with pytest.raises(MailParseError) as caught:
        parse_mail(raw, max_bytes=len(raw) - 1)
    assert caught.value.reason == "too-large"
    start = time.perf_counter()
    mail = parse_mail(raw)
    assert time.perf_counter() - start < 5
    assert mail.attachments == (Attachment("accounting-crash.dmp", "application/octet-stream", 10 * 1024 * 1024),)
    assert mail.text.startswith("Hello,\n\nthe accounting server crashed")


def test_subject_only_text_is_cut_and_ids_are_kept_in_order():
    mail = parse_mail(
        b"From: Someone <SOME.one@Example.ORG>\nSubject: =?utf-8?q?Caf=C3=A9?=   printer\n"
        b"References: <a@x>\n <b@x>   <c@x> (comment)\nIn-Reply-To: <c@x> (Someone's message)\nDate: bogus\n\n"
        + b"x"
        * 500
    )
    assert (mail.sender, mail.sender_name, mail.subject) == ("some.one@example.org", "Someone", "Café printer")
    assert mail.references == ("<a@x>", "<b@x>", "<c@x>") and mail.in_reply_to == ("<c@x>",)
    assert mail.date is None
    cut = parse_mail(b"From: a@example.org\n\n" + b"word " * 1000, max_text_chars=100).text
    assert 95 <= len(cut) <= 100 and cut.startswith("word word")
    assert parse_mail(b"From: a@example.org\nSubject: only a subject\n\n").text == ""


def test_missing_message_id_is_a_stable_hash():
    raw = b"From: a@example.org\nSubject: no id\n\nhello\n"
    first, second = parse_mail(raw), parse_mail(raw)
    assert first.message_id == second.message_id
    assert first.message_id.startswith("<sha256-") and first.message_id.endswith("@helpdesk.invalid>")
    assert parse_mail(raw + b"!").message_id != first.message_id


def test_reply_text_falls_back_to_text_and_survives_long_lines():
    only_quote = parse_mail(b"From: a@example.org\nSubject: fwd\n\n> only a quote\n> nothing else\n")
    assert only_quote.reply_text == only_quote.text == "> only a quote\n> nothing else"
    # the reply splitter's regexes take minutes on a long "Op ..." line; such lines are hidden from them
    start = time.perf_counter()
    mail = parse_mail(b"From: a@example.org\nSubject: long\n\n" + ("Op " + "a " * 40_000).encode() + b"\n")
    assert time.perf_counter() - start < 5
    assert mail.reply_text == mail.text


def test_ticket_token_and_token_subject():
    assert ticket_token("Re: VPN still broken [#1]") == 1
    assert ticket_token("[#42] printer") == 42
    assert ticket_token("Fwd: [#3] then ours [#1234]") == 1234
    for subject in ("no token", "#12", "[#]", "[# 12]", "[#0]", "", "[#x1]"):
        assert ticket_token(subject) is None
    assert token_subject("VPN still broken", 1) == "VPN still broken [#1]"
    assert token_subject("Re: VPN still broken [#1]", 1) == "Re: VPN still broken [#1]"
    assert token_subject("Re: [#2] other", 1) == "Re: [#2] other [#1]"
    assert token_subject("", 7) == "[#7]"
    assert ticket_token(token_subject("Printer  jam", 99)) == 99


def _mutate(data: bytes, rnd: random.Random) -> bytes:
    """A fixture with a few bytes deleted, replaced or inserted (some of them MIME syntax)."""
    pieces = [b"\r\n", b"\n", b":", b"=?utf-8?q?", b"?=", b"<", b">", b'"', b"--", b"boundary=", b"=\n", b"\xff"]
    buffer = bytearray(data)
    for _ in range(rnd.randint(1, 8)):
        at, choice = rnd.randrange(len(buffer) + 1), rnd.random()
        if choice < 0.3:
            del buffer[at : at + rnd.randint(1, 20)]
        elif choice < 0.6:
            buffer[at:at] = rnd.choice(pieces)
        else:
            buffer[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 20)))
    return bytes(buffer)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _parses_or_a_clear_error(raw: bytes) -> None:
    try:
        mail = parse_mail(raw)
    except MailParseError as error:
        assert error.reason in {"too-large", "no-sender", "no-text", "unparsable-headers", "undecodable"}
        return
    assert mail.message_id.startswith("<") and mail.size == len(raw)
    assert "\x00" not in mail.text + mail.subject and "\r" not in mail.text
    mail.text.encode("utf-8"), mail.subject.encode("utf-8"), mail.reply_text.encode("utf-8")  # no lone surrogates


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_parse_or_raise_a_mail_parse_error(raw):
    _parses_or_a_clear_error(raw)


@FUZZ
@given(st.sampled_from(MAIL_FIXTURES), st.randoms(use_true_random=False))
def test_mutated_fixtures_parse_or_raise_a_mail_parse_error(name, rnd):
    _parses_or_a_clear_error(_mutate(fixture_mail(name), rnd))


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["From", "Subject", "Content-Type", "Content-Transfer-Encoding", "References", "Date"]),
            st.text(max_size=60),
        ),
        max_size=6,
    ),
    st.text(max_size=300),
)
def test_random_headers_parse_or_raise_a_mail_parse_error(headers, body):
    head = "".join(f"{name}: {value}\n" for name, value in headers)
    _parses_or_a_clear_error(f"{head}\n{body}".encode("utf-8", "surrogatepass"))


MIME_PIECES = [
    b"From: a@example.org\n",
    b"Content-Type: multipart/mixed; boundary=b\n",
    b"Content-Type: multipart/alternative; boundary=c\n",
    b"Content-Type: text/html; charset=utf-7\n",
    b"Content-Type: text/plain; charset=bogus-charset\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Transfer-Encoding: base64\n",
    b"Content-Transfer-Encoding: quoted-printable\n",
    b"Content-Disposition: attachment; filename*=utf-8''%E2%82%AC.pdf\n",
    b"\n--b\n",
    b"\n--b--\n",
    b"\n--c\n",
    b"\n",
    b"<p>x<br>y</p>",
    b"=E2=82",
    b"QUJD",
    b"\x00",
    b"\xff",
]


@FUZZ
@given(st.lists(st.sampled_from(MIME_PIECES), max_size=30))
def test_random_mime_structures_parse_or_raise_a_mail_parse_error(pieces):
    _parses_or_a_clear_error(b"".join(pieces))
