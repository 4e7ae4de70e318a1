"""Inbound e-mail with a real IMAP server (Dovecot, started on a free port with a temporary mail store):
real MIME mail of every kind becomes tickets with suggestions, replies thread onto their tickets,
auto-generated mail never becomes a ticket, bad mail is quarantined with its reason, nothing is processed
twice, acknowledgements go out through a real SMTP server (aiosmtpd) per RFC 3834, and the serving process
polls the mailbox by itself."""

from __future__ import annotations

import time
from dataclasses import replace
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import select

from api.app import create_app
from models import InboundMail, Suggestion, Ticket, TicketMessage, TicketSla
from models.channel_settings import MailSettings
from models.db import make_engine, make_session_factory, session_scope
from tests.conftest import DEMO_FIELDS, keyed_client
from tests.mailserver import big_message, fixture_mail, start_imap_server
from triage.channels.mail.poller import PROCESSED, MailPoller
from triage.channels.mail.service import standalone_poller
from triage.desk.lifecycle import update_ticket
from triage.evaluation.bench import free_port

pytestmark = pytest.mark.slow

HUMAN = ("plain", "html_only", "alternative", "quoted_printable", "base64", "latin1_dutch", "utf8_german", "attachment")
AUTOMATIC = {"out_of_office": "out-of-office", "bounce": "bounce", "list": "mailing-list"}


@pytest.fixture(scope="module")
def imap(tmp_path_factory):
    server = start_imap_server(tmp_path_factory.mktemp("imap"))
    yield server
    server.stop()


def mail_settings(imap, **extra) -> MailSettings:
    base = {"host": imap.host, "port": imap.port, "security": "none", "user": imap.user, "poll_seconds": 1.0}
    return MailSettings(**{**base, "password": imap.password, "folder": imap.folder, **extra})


@pytest.fixture(scope="module")
def deployment(deployments, imap):
    """A demo deployment (trained bundle) of this module's own, on SQLite, reading the test mailbox."""
    settings = deployments.copy("sqlite")
    return replace(settings, mail=mail_settings(imap, processed_folder="Processed"))


@pytest.fixture(scope="module")
def sessions(deployment):
    engine = make_engine(deployment.database.url)
    yield make_session_factory(engine)
    engine.dispose()


def compose(sender: str, subject: str, body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "helpdesk@example.org", subject
    message["Message-ID"] = make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def by_key(sessions, key: str) -> InboundMail:
    with session_scope(sessions) as session:
        return session.scalar(select(InboundMail).where(InboundMail.message_key == key))


def message_id(raw: bytes) -> str:
    return message_from_bytes(raw, policy=policy.default)["Message-ID"].strip()


def test_every_kind_of_mail_gets_its_outcome_once(imap, deployment, sessions, encoder):
    raws = {name: fixture_mail(name) for name in (*HUMAN, *AUTOMATIC, "reply", "malformed")}
    raws["big"] = big_message()
    for name in (*HUMAN, *AUTOMATIC, "malformed", "big"):
        imap.append(raws[name])
    poller = standalone_poller(deployment, sessions, encoder)
    report = poller.poll_once()
    assert report.outcomes == {"ticket": len(HUMAN) + 1, "ignored": len(AUTOMATIC), "quarantined": 1}
    imap.append(raws["reply"])  # answers plain.eml
    assert poller.poll_once().outcomes == {"reply": 1}
    assert poller.poll_once().total == 0  # nothing is processed twice

    with session_scope(sessions) as session:
        tickets = {}
        for name in (*HUMAN, "big"):
            record = session.scalar(select(InboundMail).where(InboundMail.message_key == message_id(raws[name])))
            assert record.outcome == "ticket", name
            tickets[name] = session.get(Ticket, record.ticket_id)
            assert tickets[name].channel == "email" and tickets[name].requester, name
            suggestion = session.scalar(select(Suggestion).where(Suggestion.ticket_id == record.ticket_id))
            assert set(suggestion.predictions) == DEMO_FIELDS, name
            assert suggestion.bundle_version, name
        assert (
            tickets["latin1_dutch"].language == "nl"
            and "é" in tickets["latin1_dutch"].body + tickets["latin1_dutch"].subject
        )
        assert tickets["utf8_german"].language == "de"
        assert any(c in tickets["quoted_printable"].body for c in "äöüß")
        assert "<" not in tickets["html_only"].body and tickets["html_only"].body.strip()
        (attached,) = session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == tickets["attachment"].id))
        assert {a["content_type"] for a in attached.attachments} >= {"application/pdf", "image/png"}
        assert all(set(a) == {"filename", "content_type", "size"} for a in attached.attachments)
        (big,) = session.scalars(select(TicketMessage).where(TicketMessage.ticket_id == tickets["big"].id))
        assert big.attachments[0]["size"] >= 10 * 1024 * 1024 - 1024 and "content" not in big.attachments[0]

        reply = session.scalar(select(InboundMail).where(InboundMail.message_key == message_id(raws["reply"])))
        assert reply.outcome == "reply" and reply.ticket_id == tickets["plain"].id
        thread = session.scalars(
            select(TicketMessage).where(TicketMessage.ticket_id == tickets["plain"].id).order_by(TicketMessage.id)
        ).all()
        assert len(thread) == 2
        assert ">" not in thread[1].body and "wrote:" not in thread[1].body  # the quote is stripped ...
        assert "wrote:" in thread[1].original or ">" in thread[1].original  # ... and kept in the original
        for name, reason in AUTOMATIC.items():
            record = session.scalar(select(InboundMail).where(InboundMail.message_key == message_id(raws[name])))
            assert (record.outcome, record.reason, record.ticket_id) == ("ignored", reason, None), name
        bad = session.scalars(select(InboundMail).where(InboundMail.outcome == "quarantined")).all()
        assert len(bad) == 1 and bad[0].reason and bad[0].raw
    assert len(imap.uids("INBOX")) == 0
    assert len(imap.uids("Processed")) == len(HUMAN) + 2
    assert len(imap.uids("Quarantine")) == len(AUTOMATIC) + 1


def test_a_token_in_the_subject_threads_only_for_the_tickets_own_people(imap, deployment, sessions, encoder):
    poller = standalone_poller(deployment, sessions, encoder)
    first = compose("sanne@example.nl", "Laptop will not charge", "The charger light stays off.")
    imap.append(first)
    (ticket_id,) = poller.poll_once().ticket_ids
    imap.append(compose("sanne@example.nl", f"Re: Laptop will not charge [#{ticket_id}]", "Tried another socket."))
    imap.append(compose("mallory@example.com", f"Re: hello [#{ticket_id}]", "Please wire money."))
    report = poller.poll_once()
    assert report.outcomes == {"reply": 1, "ticket": 1}
    assert report.ticket_ids != [ticket_id]


def test_a_reply_to_a_resolved_or_pending_ticket_reopens_it_and_one_to_a_closed_ticket_starts_a_new_one(
    imap, deployment, sessions, encoder
):
    poller = standalone_poller(deployment, sessions, encoder)
    first = compose("piet@example.nl", "Printer on floor 3 offline", "It shows error 49.")
    imap.append(first)
    (ticket_id,) = poller.poll_once().ticket_ids
    with session_scope(sessions) as session:
        session.get(Ticket, ticket_id).status = "resolved"
    imap.append(compose("piet@example.nl", "Re: Printer", "Still broken.", In_Reply_To=message_id(first)))
    assert poller.poll_once().outcomes == {"reply": 1}
    with session_scope(sessions) as session:
        assert session.get(Ticket, ticket_id).status == "open"
        update_ticket(session, ticket_id, labels={}, status="pending")  # waiting for the customer: SLA paused
        assert session.get(TicketSla, ticket_id).paused_at is not None
    imap.append(compose("piet@example.nl", "Re: Printer", "Photo attached.", In_Reply_To=message_id(first)))
    assert poller.poll_once().outcomes == {"reply": 1}
    with session_scope(sessions) as session:  # the customer answered: open again, the clock runs
        assert session.get(Ticket, ticket_id).status == "open"
        assert session.get(TicketSla, ticket_id).paused_at is None
        session.get(Ticket, ticket_id).status = "closed"
    imap.append(compose("piet@example.nl", "Re: Printer", "Again.", In_Reply_To=message_id(first)))
    report = poller.poll_once()
    assert report.outcomes == {"ticket": 1} and report.ticket_ids != [ticket_id]


def test_a_mail_committed_but_not_moved_is_only_moved_on_the_next_run(imap, deployment, sessions, encoder):
    poller = standalone_poller(replace(deployment, mail=mail_settings(imap)), sessions, encoder)  # flags only
    raw = compose("jan@example.nl", "Teams crashes on start", "Since the update this morning.")
    imap.append(raw)
    assert poller.poll_once().outcomes == {"ticket": 1}
    with poller.connect() as box:  # as if the poller died between the commit and the flag
        box.flag(box.uids(f"KEYWORD {PROCESSED}"), PROCESSED, False)
    assert poller.poll_once().outcomes == {"repeat": 1}
    with session_scope(sessions) as session:
        assert session.query(Ticket).filter(Ticket.subject == "Teams crashes on start").count() == 1


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    received: list = []

    class Collect(Message):
        def handle_message(self, message) -> None:
            received.append(message)

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port())
    controller.start()
    controller.received = received
    yield controller
    controller.stop()


def test_acknowledgements_follow_rfc_3834_and_go_only_where_an_article_fits(imap, deployment, sessions, encoder, smtp):
    mail = mail_settings(
        imap,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        from_address="helpdesk@example.org",
        acknowledge=True,
    )
    poller = standalone_poller(replace(deployment, mail=mail), sessions, encoder)
    first = compose("eva@example.de", "VPN keeps disconnecting", "GlobalProtect drops every ten minutes.")
    imap.append(first)
    (ticket_id,) = poller.poll_once().ticket_ids
    (ack,) = smtp.received
    assert ack["Auto-Submitted"] == "auto-replied" and ack["To"] == "eva@example.de"
    assert ack["In-Reply-To"] == message_id(first) and f"[#{ticket_id}]" in ack["Subject"]
    assert "/help/" in ack.get_payload(decode=True).decode()
    imap.append(compose("eva@example.de", "Outlook search broken", "Search finds nothing since Monday."))
    imap.append(compose("otto@example.de", "qwxz vbnm", "zzkv plorf"))  # nothing fits: no acknowledgement
    imap.append(fixture_mail("out_of_office"))
    poller.poll_once()
    assert len(smtp.received) == 1  # one per requester per period; none where nothing fits or to a robot
    answer = compose("eva@example.de", "Re: ack", "Thanks, the article helped.", In_Reply_To=ack["Message-ID"])
    imap.append(answer)
    assert poller.poll_once().outcomes == {"reply": 1}
    assert by_key(sessions, message_id(answer)).ticket_id == ticket_id


def test_the_server_polls_the_mailbox_by_itself(imap, deployment, encoder):
    settings = replace(deployment, mail=mail_settings(imap, poll_seconds=30.0))  # IDLE wakes it, not the poll
    with keyed_client(create_app(settings, encoder=encoder), "agent") as client:
        time.sleep(1.0)  # the poller is connected and idling
        imap.append(compose("lotte@example.nl", "Badge does not open the garage", "Since Monday."))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [t for t in client.get("/v1/tickets").json()["items"] if t["subject"].startswith("Badge")]
            if found:
                break
            time.sleep(0.2)
        assert found, "the server did not pick the mail up"
        ticket = client.get(f"/v1/tickets/{found[0]['id']}").json()
        assert ticket["channel"] == "email" and ticket["suggestion"]["predictions"]


def test_a_poller_killed_mid_batch_and_restarted_makes_exactly_one_ticket_per_mail(imap, deployment, sessions):
    import signal

    from tests.processes import finish, launch, settings_env

    with MailPoller(deployment.mail, sessions, None).connect() as box:
        if not box.folder.exists("Crash"):
            box.folder.create("Crash")
    raws = [compose(f"user{n}@example.org", f"Crash test {n}: VPN drops", f"Mail number {n}.") for n in range(30)]
    for raw in raws:
        imap.append(raw, "Crash")
    keys = [message_id(raw) for raw in raws]
    env = settings_env(
        deployment,
        HELPDESK_MAIL_HOST=imap.host,
        HELPDESK_MAIL_PORT=str(imap.port),
        HELPDESK_MAIL_SECURITY="none",
        HELPDESK_MAIL_USER=imap.user,
        HELPDESK_MAIL_PASSWORD=imap.password,
        HELPDESK_MAIL_FOLDER="Crash",
        HELPDESK_MAIL_PROCESSED_FOLDER="Processed",
        HELPDESK_MAIL_BATCH="10",
    )

    def done() -> int:
        with session_scope(sessions) as session:
            return session.query(InboundMail).filter(InboundMail.message_key.in_(keys)).count()

    for kill_at in (3, 12):  # killed twice mid-batch, at whatever step it was in
        process = launch(deployment, "mail", "poll", env=env)
        deadline = time.monotonic() + 120
        while done() < kill_at and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert done() >= kill_at
    result = finish(launch(deployment, "mail", "poll", env=env))
    assert result.returncode == 0, result.stderr[-3000:]
    with session_scope(sessions) as session:
        rows = session.scalars(select(InboundMail).where(InboundMail.message_key.in_(keys))).all()
        assert sorted(r.message_key for r in rows) == sorted(keys) and {r.outcome for r in rows} == {"ticket"}
        tickets = session.scalars(select(Ticket).where(Ticket.subject.like("Crash test %"))).all()
        assert len(tickets) == 30 and len({t.subject for t in tickets}) == 30  # no ticket without its record
    assert imap.uids("Crash") == []  # every mail moved to Processed


def test_agents_read_the_thread_admins_the_mail_log_and_erasure_takes_the_mail_too(imap, deployment, sessions, encoder):
    poller = standalone_poller(deployment, sessions, encoder)
    first = compose("noor@example.nl", "Scanner sends nothing", "The scanner on floor 2 sends no mail.")
    imap.append(first)
    (ticket_id,) = poller.poll_once().ticket_ids
    reply = compose(
        "noor@example.nl",
        "Re: Scanner sends nothing",
        "Still nothing.\n\nOn Monday helpdesk wrote:\n> Did you restart it?\n",
        In_Reply_To=message_id(first),
    )
    imap.append(reply)
    imap.append(fixture_mail("malformed"))
    poller.poll_once()
    app = create_app(replace(deployment, mail=MailSettings()), encoder=encoder)  # no poller of its own
    with keyed_client(app, "admin") as client:
        thread = client.get(f"/v1/tickets/{ticket_id}/messages").json()
        assert [m["direction"] for m in thread] == ["in", "in"]
        assert thread[1]["body"].startswith("Still nothing") and "restart" not in thread[1]["body"]
        assert "restart" in thread[1]["original"]
        log = client.get("/v1/mail/inbound", params={"outcome": "quarantined"}).json()
        assert log["total"] >= 1 and all(item["reason"] for item in log["items"])
        assert client.get("/v1/mail/inbound", params={"outcome": "lost"}).status_code == 422
        exported = client.post("/v1/requesters/export", json={"requester": "noor@example.nl"}).json()
        assert len(exported["messages"]) == 2 and len(exported["inbound_mail"]) == 2
        assert client.post("/v1/requesters/erase", json={"requester": "noor@example.nl"}).status_code == 200
        thread = client.get(f"/v1/tickets/{ticket_id}/messages").json()
        assert all(m["author"] is None and not m["original"] and "Scanner" not in m["subject"] for m in thread)
    with session_scope(sessions) as session:
        records = session.scalars(select(InboundMail).where(InboundMail.ticket_id == ticket_id)).all()
        assert records and all(r.sender is None and "Scanner" not in (r.subject or "") for r in records)


def fresh(raw: bytes) -> bytes:
    """``raw`` under a new ``Message-ID`` (a mail no earlier test sent)."""
    import re

    new = make_msgid(domain="example.org").encode()
    return re.sub(rb"(?im)^message-id:[^\r\n]*", b"Message-ID: " + new, raw, count=1)


def test_the_readme_table_of_bad_mail_outcomes_is_what_the_poller_does(imap, deployment, sessions, encoder):
    from pathlib import Path

    cases = [
        ("an out-of-office reply", fresh(fixture_mail("out_of_office"))),
        ("a bounce (delivery status report)", fresh(fixture_mail("bounce"))),
        ("a mailing-list mail (`Precedence: bulk`)", fresh(fixture_mail("list"))),
        (
            "`Auto-Submitted: auto-generated`",
            compose("monitor@example.org", "Disk 91% full", "sda1", Auto_Submitted="auto-generated"),
        ),
        ("no readable `From`", fresh(fixture_mail("malformed"))),
        ("neither subject nor text", compose("leeg@example.nl", "", "")),
        (
            "over `HELPDESK_MAIL_MAX_MESSAGE_BYTES` (here 5 MB; 10 MB sent)",
            big_message().replace(b"<big-dump-", b"<too-big-"),
        ),
        ("the same mail again (same `Message-ID`)", fixture_mail("plain")),
    ]
    with imap.mailbox() as box:
        box.folder.create("Bad")
    settings = replace(deployment, mail=mail_settings(imap, folder="Bad", max_message_bytes=5 * 1024 * 1024))
    poller = standalone_poller(settings, sessions, encoder)
    imap.append(fixture_mail("plain"), "Bad")
    poller.poll_once()  # a ticket (or a repeat, when an earlier test took it): the last case sends it again
    rows = ["| mail | outcome | reason |", "|---|---|---|"]
    for label, raw in cases:
        imap.append(raw, "Bad")
        report = poller.poll_once()
        ((outcome, count),) = report.outcomes.items()
        with session_scope(sessions) as session:  # the newest record is this mail's (unless a repeat)
            reason = session.scalar(select(InboundMail.reason).order_by(InboundMail.id.desc()).limit(1))
        reason = "" if outcome == "repeat" else reason
        shown = "nothing new (moved only)" if outcome == "repeat" else outcome
        rows.append(f"| {label} | {shown} | {reason} |")
    with imap.mailbox() as box:
        box.folder.set("Bad")
        assert box.uids(f"UNKEYWORD {PROCESSED}") == [] and len(box.uids()) == 2  # plain.eml twice, flagged in place
    table = "\n".join(rows)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert table in readme, table


@pytest.mark.postgres
def test_mail_intake_on_postgresql(imap, deployments, encoder):
    """The same intake on the production database: tickets, a threaded reply, an ignored and a quarantined
    mail, and a subject token too large for a ticket id (which PostgreSQL would refuse to look up)."""
    from tests.conftest import BACKENDS

    if "postgresql" not in BACKENDS:
        pytest.skip("postgresql is not among HELPDESK_TEST_BACKENDS")
    settings = deployments.copy("postgresql")
    with imap.mailbox() as box:
        box.folder.create("Pg")
    settings = replace(settings, mail=mail_settings(imap, folder="Pg"))
    engine = make_engine(settings.database.url)
    sessions = make_session_factory(engine)
    try:
        first = compose("kim@example.de", "Drucker druckt nicht", "Der Drucker im 2. Stock zeigt Fehler 49.")
        mails = [
            first,
            compose("kim@example.de", "Re: Drucker", "Immer noch.", In_Reply_To=message_id(first)),
            compose("kim@example.de", "Re: [#99999999999] Drucker", "Token too large for an id."),
            fresh(fixture_mail("out_of_office")),
            fresh(fixture_mail("malformed")),
        ]
        for raw in mails:
            imap.append(raw, "Pg")
        report = standalone_poller(settings, sessions, encoder).poll_once()
        assert report.outcomes == {"ticket": 2, "reply": 1, "ignored": 1, "quarantined": 1}
        with session_scope(sessions) as session:
            ticket = session.get(Ticket, report.ticket_ids[0])
            assert ticket.language == "de" and ticket.channel == "email"
            assert session.query(TicketMessage).filter(TicketMessage.ticket_id == ticket.id).count() == 2
    finally:
        engine.dispose()
