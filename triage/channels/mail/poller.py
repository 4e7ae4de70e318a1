"""The IMAP poller: reads new mail from the helpdesk mailbox, turns each into its outcome (a ticket, a
reply, ignored or quarantined) and only after that row is committed moves the mail (or flags it). A poller
killed at any point and started again processes every mail exactly once: a mail whose row committed but
which was not moved yet is recognised by its ``Message-ID`` and only moved."""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.channel_settings import MailSettings
from models.db import session_scope
from models.errors import InvalidInput
from triage.channels.mail.intake import (
    MailOutcome,
    earlier_outcome,
    message_key,
    record_mail,
    record_quarantine,
    ticket_fields,
)
from triage.channels.mail.parsing import MailParseError, ParsedMail, parse_mail
from triage.desk.suggest import Suggestions

__all__ = ("PROCESSED", "MailPoller", "PollReport")

log = logging.getLogger(__name__)
PROCESSED = "$Triaged"  # the IMAP keyword on processed mail that stays in the folder
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
SUGGEST_BATCH = 16  # mails read, then suggested together, before each is committed in turn


@contextmanager
def _timed(seconds: Counter, stage: str) -> Iterator[None]:
    began = time.perf_counter()
    try:
        yield
    finally:
        seconds[stage] += time.perf_counter() - began


@dataclass(frozen=True)
class _Read:
    uid: str
    raw: bytes
    mail: ParsedMail | MailParseError


@dataclass
class PollReport:
    """How many mails a poll took, by outcome (``ticket``, ``reply``, ``ignored``, ``quarantined``, and
    ``repeat`` for mail an earlier run had processed but not moved)."""

    outcomes: Counter = field(default_factory=Counter)
    ticket_ids: list[int] = field(default_factory=list)
    seconds: Counter = field(default_factory=Counter)  # by stage: fetch, parse, suggest, desk, settle

    @property
    def total(self) -> int:
        """Mails processed for the first time."""
        return sum(v for k, v in self.outcomes.items() if k != "repeat")

    @property
    def handled(self) -> int:
        """Mails taken from the folder, repeats included (a full batch means more may be waiting)."""
        return sum(self.outcomes.values())


class MailPoller:
    """Polls one mailbox; ``suggest(subject, body)`` gives a new ticket its suggestions (and
    ``suggest_batch(drafts)``, when given, those of several mails at once, ahead of their transactions),
    and ``after_ticket(ticket_id, mail)`` (optional) runs after a new ticket from mail commits (the
    acknowledgement)."""

    def __init__(
        self,
        settings: MailSettings,
        sessions: sessionmaker[Session],
        suggest: Callable,
        *,
        after_ticket: Callable[[int, ParsedMail], None] | None = None,
        suggest_batch: Callable[[list[tuple[str, str]]], list] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.suggest = suggest
        self.after_ticket = after_ticket
        self.suggest_batch = suggest_batch
        self._stop = threading.Event()

    @contextmanager
    def connect(self) -> Iterator[BaseMailBox]:
        """A logged-in mailbox on the configured folder (the password is never logged)."""
        s = self.settings
        if s.security == "ssl":
            box: BaseMailBox = MailBox(s.host, s.port, timeout=60, ssl_context=ssl.create_default_context())
        elif s.security == "starttls":
            box = MailBoxStartTls(s.host, s.port, timeout=60, ssl_context=ssl.create_default_context())
        else:
            box = MailBoxUnencrypted(s.host, s.port, timeout=60)
        box.login(s.user, s.password, initial_folder=s.folder)
        try:
            for folder in (s.processed_folder, s.rejected_folder):
                if folder and not box.folder.exists(folder):
                    box.folder.create(folder)
            yield box
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone
                box.logout()

    def _pending(self, box: BaseMailBox) -> list[tuple[str, int]]:
        """UIDs and sizes of the mail not processed yet, oldest first, at most a batch."""
        uids = box.uids(f"UNKEYWORD {PROCESSED}")[: self.settings.batch]
        if not uids:
            return []
        status, data = box.client.uid("FETCH", ",".join(uids), "(UID RFC822.SIZE)")
        sizes = {}
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            uid, size = _UID.search(line or b""), _SIZE.search(line or b"")
            if uid and size:
                sizes[uid.group(1).decode()] = int(size.group(1))
        return [(uid, sizes.get(uid, 0)) for uid in uids]

    def _fetch(self, box: BaseMailBox, uid: str, part: str = "BODY.PEEK[]") -> bytes:
        status, data = box.client.uid("FETCH", uid, f"({part})")
        for item in data:
            if isinstance(item, tuple) and len(item) > 1:
                return item[1]
        raise MailParseError("unparsable-headers", f"the server returned no content for UID {uid}")

    def _settle(self, box: BaseMailBox, uid: str, outcome: MailOutcome) -> None:
        """Move a mail whose outcome is committed, or flag it where it is when no folder is set. Never both:
        a mail flagged but not yet moved when the poller died would be skipped, and stay, for ever."""
        rejected = outcome.outcome in {"ignored", "quarantined"}
        folder = self.settings.rejected_folder if rejected else self.settings.processed_folder
        if folder:
            box.move(uid, folder)
        else:
            box.flag(uid, PROCESSED, True)

    def _read(self, box: BaseMailBox, uid: str, size: int, seconds: Counter) -> _Read:
        """Fetch a mail (only its header when it is over the size cap) and parse it; a mail the server
        sends no content for is read as that error, to be quarantined rather than stop the poll."""
        try:
            if size > self.settings.max_message_bytes:
                detail = f"{size} bytes, over HELPDESK_MAIL_MAX_MESSAGE_BYTES ({self.settings.max_message_bytes})"
                return _Read(uid, self._fetch(box, uid, "BODY.PEEK[HEADER]"), MailParseError("too-large", detail))
            with _timed(seconds, "fetch"):
                raw = self._fetch(box, uid)
        except MailParseError as error:
            return _Read(uid, f"(no content for UID {uid} of {self.settings.mailbox})".encode(), error)
        with _timed(seconds, "parse"):
            try:
                return _Read(uid, raw, parse_mail(raw, max_bytes=self.settings.max_message_bytes))
            except MailParseError as error:
                return _Read(uid, raw, error)

    def _presuggest(self, reads: list[_Read], seconds: Counter) -> dict[tuple[str, str], Suggestions]:
        """Suggestions for the mails that look like new tickets, in one batch (one encoder call, one call
        per classifier): a mail that names no earlier message is most likely new."""
        if self.suggest_batch is None:
            return {}
        drafts = []
        for read in reads:
            mail = read.mail
            if isinstance(mail, ParsedMail) and not (mail.auto_generated or mail.in_reply_to or mail.references):
                subject, body = ticket_fields(mail)
                drafts.append((subject.strip(), body.strip()))
        drafts = list(dict.fromkeys(d for d in drafts if d[0] or d[1]))
        if not drafts:
            return {}
        with _timed(seconds, "suggest"):
            results = self.suggest_batch(drafts)
        return {d: r for d, r in zip(drafts, results, strict=True) if isinstance(r, Suggestions)}

    def _record(self, read: _Read, ready: dict[tuple[str, str], Suggestions], seconds: Counter) -> MailOutcome:
        """Commit what becomes of a mail that was read."""
        mailbox, raw, mail = self.settings.mailbox, read.raw, read.mail
        if isinstance(mail, MailParseError):
            reason, detail = mail.reason, str(mail)
            return self._commit(lambda s: record_quarantine(s, raw, reason, detail, mailbox=mailbox), raw)

        def suggest(subject: str, body: str) -> Suggestions:
            found = ready.get((subject, body))
            if found is not None:
                return found
            with _timed(seconds, "suggest"):
                return self.suggest(subject, body)

        try:
            with _timed(seconds, "desk"):
                return self._commit(lambda s: record_mail(s, mail, suggest, mailbox=mailbox), raw, mail)
        except InvalidInput as error:  # the desk refuses it (e.g. no text at all): quarantined, not retried forever
            detail = error.detail
            return self._commit(lambda s: record_quarantine(s, raw, "refused", detail, mailbox=mailbox), raw)

    def _commit(self, work: Callable[[Session], MailOutcome], raw: bytes, mail: ParsedMail | None = None):
        try:
            with session_scope(self.sessions) as session:
                outcome = work(session)
        except IntegrityError:  # another poller committed the same mail at the same moment
            key = mail.message_id if mail is not None else message_key(raw)
            with session_scope(self.sessions) as session:
                outcome = earlier_outcome(session, key)
            if outcome is None:
                raise
            return outcome
        if outcome.outcome == "ticket" and not outcome.repeat and mail is not None and self.after_ticket:
            try:
                self.after_ticket(outcome.ticket_id, mail)
            except Exception:  # an acknowledgement that fails must not hold up the mailbox
                log.exception("acknowledgement for ticket %s failed", outcome.ticket_id)
        return outcome

    def poll_once(self, box: BaseMailBox | None = None) -> PollReport:
        """Process the mail waiting now (at most a batch); returns what became of it."""
        if box is None:
            with self.connect() as box:
                return self.poll_once(box)
        report, pending = PollReport(), self._pending(box)
        for start in range(0, len(pending), SUGGEST_BATCH):
            reads = [self._read(box, uid, size, report.seconds) for uid, size in pending[start : start + SUGGEST_BATCH]]
            ready = self._presuggest(reads, report.seconds)
            for read in reads:
                outcome = self._record(read, ready, report.seconds)
                with _timed(report.seconds, "settle"):
                    self._settle(box, read.uid, outcome)
                report.outcomes["repeat" if outcome.repeat else outcome.outcome] += 1
                if outcome.outcome == "ticket" and not outcome.repeat:
                    report.ticket_ids.append(outcome.ticket_id)
                reason = f" ({outcome.reason})" if outcome.reason else ""
                log.info("mail %s: %s%s", read.uid, outcome.outcome, reason)
        return report

    def run(self) -> None:
        """Poll until :meth:`stop`: with IDLE where the server offers it (woken by new mail), else every
        ``poll_seconds``; reconnects after errors with a growing pause."""
        pause = 1.0
        while not self._stop.is_set():
            try:
                with self.connect() as box:
                    pause = 1.0
                    idle = "IDLE" in (box.client.capabilities or ())
                    while not self._stop.is_set():
                        report = self.poll_once(box)
                        if report.handled >= self.settings.batch:
                            continue  # more is waiting
                        if idle:
                            box.idle.wait(timeout=min(self.settings.poll_seconds, 29 * 60))
                        else:
                            self._stop.wait(self.settings.poll_seconds)
            except Exception:  # noqa: BLE001 - the server or the database may be away; try again
                if self._stop.is_set():
                    return
                log.exception("mail poll of %s failed; retrying in %.0f s", self.settings.mailbox, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, 300.0)

    def stop(self) -> None:
        """Ask :meth:`run` to return (at the latest after the current IDLE wait)."""
        self._stop.set()
