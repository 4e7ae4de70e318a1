"""The test IMAP server (tests/mailserver.py, a real Dovecot): every mail fixture and a 10 MB message go in and
come back byte for byte and parse; IDLE wakes on mail from another connection; MOVE to a created folder; and
stopping it leaves no Dovecot process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.mailserver import MAIL_FIXTURES, ImapServer, big_message, fixture_mail, running, start_imap_server
from triage.channels.mail.parsing import MailParseError, parse_mail

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImapServer]:
    with start_imap_server(tmp_path_factory.mktemp("imap")) as started:
        yield started


def _crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_every_fixture_and_a_10_mb_message_come_back_and_parse(server):
    sent = {name: fixture_mail(name) for name in MAIL_FIXTURES} | {"big": big_message()}
    start = time.perf_counter()
    for raw in sent.values():
        server.append(raw)
    appended = time.perf_counter() - start
    assert len(server.uids()) == len(sent) == 15

    with server.mailbox() as box:
        start = time.perf_counter()
        fetched = list(box.fetch(mark_seen=False, bulk=True))
        took = time.perf_counter() - start
        assert [m.subject for m in fetched] == [m.subject for m in box.fetch(mark_seen=False, headers_only=True)]
        assert not any("\\Seen" in m.flags for m in box.fetch(mark_seen=False, headers_only=True, bulk=True))
        raws = {}
        for uid in box.uids():  # the bytes as the poller reads them: BODY.PEEK[] (IMAP sends CRLF line ends)
            status, data = box.client.uid("FETCH", uid, "(BODY.PEEK[])")
            raws[uid] = next(item[1] for item in data if isinstance(item, tuple))
    assert appended < 10 and took < 10, (appended, took)
    assert len(fetched) == len(sent)

    # byte for byte, in CRLF; but for the malformed fixture, whose NUL byte Dovecot sends as 0x80 (IMAP has no NUL)
    assert sorted(raws.values()) == sorted(_crlf(raw).replace(b"\x00", b"\x80") for raw in sent.values())
    for name, raw in sent.items():
        if name == "malformed":
            with pytest.raises(MailParseError):
                parse_mail(_crlf(raw))
            continue
        here, there = parse_mail(raw), parse_mail(_crlf(raw))
        assert replace(there, size=here.size) == here, name
    by_subject = {m.subject: m for m in fetched}
    big = by_subject["Crash dump of the accounting server"]
    assert [(a.filename, a.size) for a in big.attachments] == [("accounting-crash.dmp", 10 * 1024 * 1024)]
    assert parse_mail(big.obj.as_bytes()).attachments[0].size == 10 * 1024 * 1024
    for message in fetched:  # what imap_tools' bulk fetch hands over parses too
        raw = message.obj.as_bytes()
        if b"no sender anywhere" in raw:
            with pytest.raises(MailParseError):
                parse_mail(raw)
        else:
            assert parse_mail(raw).sender


def test_idle_returns_after_an_append_from_another_connection(server):
    with server.mailbox() as box:
        box.folder.create("IdleBox")
        box.folder.set("IdleBox")
        start = time.perf_counter()
        assert box.idle.wait(timeout=0.3) == []  # nothing arrives: IDLE ends at its timeout
        assert 0.25 < time.perf_counter() - start < 3

        later = threading.Timer(0.3, server.append, args=(fixture_mail("reply"), "IdleBox"))
        later.start()
        start = time.perf_counter()
        try:
            responses = box.idle.wait(timeout=20)
        finally:
            later.join()
        waited = time.perf_counter() - start
        assert any(b"EXISTS" in line for line in responses), responses
        assert waited < 10, waited
        assert len(box.uids()) == 1


def test_move_to_a_created_folder(server):
    with server.mailbox() as box:
        capabilities = box.client.capability()[1][0].decode().split()  # as logged in
        assert {"IDLE", "MOVE", "UIDPLUS"} <= set(capabilities)  # a real MOVE, not copy and expunge
        box.folder.create("Processed")
    for name in ("plain", "list"):
        server.append(fixture_mail(name), "Triage")  # creates the folder
    with server.mailbox() as box:
        box.folder.set("Triage")
        uids = box.uids()
        box.move(uids[0], "Processed")
        assert box.uids() == uids[1:]
    assert {"INBOX", "Triage", "Processed"} <= set(server.folders())
    assert len(server.uids("Processed")) == 1
    with server.mailbox() as box:
        box.folder.set("Processed")
        (moved,) = box.fetch(mark_seen=False)
        assert parse_mail(moved.obj.as_bytes()).subject == "VPN disconnects every few minutes"


def test_stop_leaves_no_dovecot_process(tmp_path):
    start = time.perf_counter()
    server = start_imap_server(tmp_path)
    started = time.perf_counter() - start
    box = server.mailbox()  # a logged-in session: its imap process must end too
    box.append(fixture_mail("plain"), "INBOX")
    pids = server.pids()
    assert len(pids) >= 4 and running(pids) == pids
    start = time.perf_counter()
    server.stop()
    stopped = time.perf_counter() - start
    assert running(pids) == []
    assert not server.base_dir.exists()
    with pytest.raises(OSError):
        socket.create_connection((server.host, server.port), timeout=2).close()
    assert started < 10 and stopped < 5, (started, stopped)
    server.stop()  # a second stop is harmless
