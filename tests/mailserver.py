"""A real IMAP server for tests: Debian's Dovecot (``dovecot-imapd``) on a free port, with its own config, mail
store, state and log in a temporary folder; and the mail fixtures (``tests/data/mail/*.eml``).

Dovecot refuses uid 0 for mail access ("userdb returned 0 as uid"), and the tests run as root. As root, the
mail processes run as ``nobody`` and are chrooted (by root, before they drop privileges) into the temporary
mail folder, owned by ``nobody``: so ``nobody`` never needs to pass pytest's 0700 ``/tmp/pytest-of-root``. The
internal services (auth, which reads the passwd-file; anvil; stats) run as root, the login processes as
Dovecot's own ``dovenull``. Not as root, everything runs as the current user, without chroots.

The unix sockets live in a short folder under ``/tmp`` (a socket path has at most 107 bytes; pytest's temporary
paths can be longer), removed by :meth:`ImapServer.stop`."""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

from triage.evaluation.bench import free_port

__all__ = ("MAIL_FIXTURES", "ImapServer", "big_message", "fixture_mail", "running", "start_imap_server")

MAIL_DIR = Path(__file__).resolve().parent / "data" / "mail"
MAIL_FIXTURES = tuple(sorted(p.stem for p in MAIL_DIR.glob("*.eml")))
IN_CI = os.environ.get("CI", "").lower() == "true"
START_TIMEOUT = 30.0

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base_dir}
state_dir = {root}/state
instance_name = dovecot-test-{port}
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
{chroot}
mail_location = maildir:~/Maildir
mail_fsync = never
mail_max_userip_connections = 100
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}
}}
service anvil {{
  {anvil_chroot}
}}
service imap-login {{
  {login_chroot}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class ImapServer:
    """A running Dovecot; a context manager that stops it on exit."""

    host = "127.0.0.1"
    user = "helpdesk"
    password = "helpdesk-secret"
    folder = "INBOX"

    def __init__(self, process: subprocess.Popen, port: int, root: Path, base_dir: Path) -> None:
        self.process, self.port, self.root, self.base_dir = process, port, root, base_dir
        self.log = root / "dovecot.log"

    def __enter__(self) -> ImapServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def mailbox(self, timeout: float = 30) -> MailBoxUnencrypted:
        """A logged-in imap_tools mailbox (use it as a context manager: it logs out on exit)."""
        return MailBoxUnencrypted(self.host, self.port, timeout=timeout).login(self.user, self.password)

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        """Deliver ``raw`` into ``folder`` (IMAP APPEND, as a mail client that files a message does), creating
        the folder if it does not exist."""
        with self.mailbox() as box:
            if not box.folder.exists(folder):
                box.folder.create(folder)
            box.append(raw, folder)

    def uids(self, folder: str = "INBOX") -> list[str]:
        with self.mailbox() as box:
            box.folder.set(folder)
            return list(box.uids())

    def folders(self) -> list[str]:
        with self.mailbox() as box:
            return sorted(f.name for f in box.folder.list())

    def pids(self) -> list[int]:
        """The master's pid and its descendants' (the login, auth, imap ... processes)."""
        parents: dict[int, int] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(stat.parent.name)] = int(fields[1])
        found, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            found += frontier
        return found

    def log_tail(self, chars: int = 4000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else "(no log)"
        return text[-chars:]

    def stop(self) -> None:
        """Stop Dovecot: SIGTERM to its whole process group at once, which ends it in 0.02-1 s (SIGTERM to the
        master alone takes a second, and ten while a client stays logged in); whatever still runs 10 s later is
        killed. Returns when none of its processes runs (one that exited may stay a zombie a moment, until init
        reaps it)."""
        pids = self.pids() if self.process.poll() is None else []
        if pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # its own group: started with start_new_session
            deadline = time.monotonic() + 10
            while running(pids) and time.monotonic() < deadline:
                time.sleep(0.01)
            for pid in running(pids):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.process.wait(10)
        shutil.rmtree(self.base_dir, ignore_errors=True)


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run (neither gone nor a zombie)."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            alive.append(pid)
    return alive


def _dovecot() -> str:
    found = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.access(p, os.X_OK)), None)
    if found is None:
        message = "Dovecot is not installed (apt-get install dovecot-imapd): the mail tests need a real IMAP server"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


def _accounts(root: Path) -> dict[str, object]:
    """Who runs what: as root, mail as ``nobody`` in a chroot; otherwise everything as the current user."""
    mail = root / "mail"
    home = mail / ImapServer.user
    home.mkdir(parents=True)
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        users = {
            "internal_user": me.pw_name,
            "login_user": me.pw_name,
            "internal_group": grp.getgrgid(me.pw_gid).gr_name,
        }
        chroots = {"chroot": "", "anvil_chroot": "chroot =", "login_chroot": "chroot ="}  # only root may chroot
        return {**users, **chroots, "uid": me.pw_uid, "gid": me.pw_gid, "home": home}
    nobody = pwd.getpwnam("nobody")
    try:
        login_user = pwd.getpwnam("dovenull").pw_name
    except KeyError:
        login_user = "nobody"
    for path in (mail, home):
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return {
        "internal_user": "root",
        "internal_group": "root",
        "login_user": login_user,
        "uid": nobody.pw_uid,
        "gid": nobody.pw_gid,
        "home": f"{mail}/./{ImapServer.user}",  # "/./": chroot to the mail folder, home inside it
        "chroot": f"valid_chroot_dirs = {mail}",
        "anvil_chroot": "",
        "login_chroot": "",
    }


def _ready(server: ImapServer, deadline: float) -> None:
    """Wait until an IMAP login works; raise with the log's end if Dovecot exits or the deadline passes."""
    error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"dovecot exited with {server.process.returncode}; its log ends:\n{server.log_tail()}")
        try:
            client = imaplib.IMAP4(server.host, server.port, timeout=5)
            try:
                client.login(server.user, server.password)
            finally:
                client.shutdown()
            return
        except (OSError, imaplib.IMAP4.error) as caught:
            error = caught
            time.sleep(0.02)
    raise RuntimeError(f"dovecot did not accept a login within {START_TIMEOUT:.0f} s ({error!r}):\n{server.log_tail()}")


def start_imap_server(tmp_path: Path) -> ImapServer:
    """Start Dovecot with a fresh mail store under ``tmp_path``; returns once it accepts an IMAP login.

    Skips the test when Dovecot is not installed (fails it under ``CI=true``)."""
    binary = _dovecot()
    root = Path(tempfile.mkdtemp(prefix="dovecot-", dir=tmp_path))
    (root / "state").mkdir()
    (root / "passwd").write_text(f"{ImapServer.user}:{{PLAIN}}{ImapServer.password}::::::\n")
    accounts = _accounts(root)
    for attempt in range(3):  # another process may take the free port before Dovecot binds it
        port, base_dir = free_port(), Path(tempfile.mkdtemp(prefix="dovecot-", dir="/tmp"))
        config = root / "dovecot.conf"
        config.write_text(_CONFIG.format(root=root, base_dir=base_dir, port=port, **accounts))
        with open(root / "dovecot.out", "ab") as out:
            process = subprocess.Popen(
                [binary, "-F", "-c", str(config)], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = ImapServer(process, port, root, base_dir)
        try:
            _ready(server, time.monotonic() + START_TIMEOUT)
            return server
        except RuntimeError:
            server.stop()
            if attempt == 2 or "Address already in use" not in server.log_tail():
                raise
    raise AssertionError("unreachable")


def fixture_mail(name: str) -> bytes:
    """The raw bytes of ``tests/data/mail/<name>.eml``."""
    return (MAIL_DIR / f"{name}.eml").read_bytes()


def big_message(size_bytes: int = 10 * 1024 * 1024) -> bytes:
    """A message with a short text part and an attachment of ``size_bytes`` (base64: the message is a third
    larger), built at test time; the same size gives the same bytes."""
    message = EmailMessage()
    message["From"] = "Lena Park <lena.park@example.org>"
    message["To"] = "helpdesk@helpdesk.example.com"
    message["Subject"] = "Crash dump of the accounting server"
    message["Date"] = "Mon, 17 Jun 2024 08:30:00 +0200"
    message["Message-ID"] = f"<big-dump-{size_bytes}@example.org>"
    message.set_content(
        "Hello,\n\nthe accounting server crashed again last night; the memory dump is attached.\n\nLena\n"
    )
    data = random.Random(size_bytes).randbytes(size_bytes)
    message.add_attachment(data, maintype="application", subtype="octet-stream", filename="accounting-crash.dmp")
    return message.as_bytes(policy=SMTP)


def main() -> None:
    """``python -m tests.mailserver``: a Dovecot for ``helpdesk bench-channels`` or trying the mail intake by
    hand; prints the ``HELPDESK_MAIL_*`` settings for it and runs until Ctrl-C."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="helpdesk-imap-") as root:
        server = start_imap_server(Path(root))
        print(
            f"export HELPDESK_MAIL_HOST={server.host} HELPDESK_MAIL_PORT={server.port} HELPDESK_MAIL_SECURITY=none "
            f"HELPDESK_MAIL_USER={server.user} HELPDESK_MAIL_PASSWORD={server.password}",
            flush=True,
        )
        try:
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            server.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
