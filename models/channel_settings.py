"""Settings of the channels: the IMAP mailbox tickets arrive in, acknowledgements by SMTP, and outbound
webhooks. Passwords come from the environment and are never logged (their dataclass fields hide them from
``repr``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from models.env_values import InvalidSetting, choice, integer, number

__all__ = ("MailSettings", "WebhookSettings")

WEBHOOK_NETWORKS = ("loopback", "private", "link-local")


def _flag(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name)
    return default if value is None or value == "" else value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class MailSettings:
    """One IMAP mailbox polled for new tickets, and the SMTP server acknowledgements go out through."""

    host: str = ""  # empty: no mailbox, nothing polled
    port: int = 993
    security: str = "ssl"  # ssl (IMAPS), starttls or none (only for a server on this machine)
    user: str = ""
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    processed_folder: str = ""  # empty: processed mail stays, flagged; else it is moved there
    rejected_folder: str = "Quarantine"  # auto-generated and unparsable mail is moved here
    poll_seconds: float = 60.0  # between polls when the server has no IDLE (and the longest IDLE wait)
    batch: int = 50  # messages per poll
    max_message_bytes: int = 25 * 1024 * 1024  # larger mail is quarantined unread
    smtp_host: str = ""  # empty: no acknowledgements
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = field(default="", repr=False)
    from_address: str = ""  # the helpdesk's address acknowledgements come from
    acknowledge: bool = False  # send the best-fitting articles when the nothing-fits model says one fits
    acknowledge_period_hours: float = 24.0  # at most one acknowledgement per requester in this period

    @property
    def enabled(self) -> bool:
        """Whether a mailbox is configured."""
        return bool(self.host and self.user)

    @property
    def mailbox(self) -> str:
        """The mailbox's name in logs and records (never the password)."""
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        """``HELPDESK_MAIL_*`` variables."""
        security = choice(env, "HELPDESK_MAIL_SECURITY", ("ssl", "starttls", "none"))
        smtp_security = choice(env, "HELPDESK_MAIL_SMTP_SECURITY", ("starttls", "ssl", "none"))
        return cls(
            host=env.get("HELPDESK_MAIL_HOST", ""),
            port=integer(env, "HELPDESK_MAIL_PORT", 993 if security == "ssl" else 143, low=1, high=65535),
            security=security,
            user=env.get("HELPDESK_MAIL_USER", ""),
            password=env.get("HELPDESK_MAIL_PASSWORD", ""),
            folder=env.get("HELPDESK_MAIL_FOLDER", "INBOX"),
            processed_folder=env.get("HELPDESK_MAIL_PROCESSED_FOLDER", ""),
            rejected_folder=env.get("HELPDESK_MAIL_REJECTED_FOLDER", "Quarantine"),
            poll_seconds=number(env, "HELPDESK_MAIL_POLL_SECONDS", 60),
            batch=integer(env, "HELPDESK_MAIL_BATCH", 50, low=1),
            max_message_bytes=integer(env, "HELPDESK_MAIL_MAX_MESSAGE_BYTES", 25 * 1024 * 1024, low=1),
            smtp_host=env.get("HELPDESK_MAIL_SMTP_HOST", ""),
            smtp_port=integer(
                env, "HELPDESK_MAIL_SMTP_PORT", 465 if smtp_security == "ssl" else 587, low=1, high=65535
            ),
            smtp_security=smtp_security,
            smtp_user=env.get("HELPDESK_MAIL_SMTP_USER", ""),
            smtp_password=env.get("HELPDESK_MAIL_SMTP_PASSWORD", ""),
            from_address=env.get("HELPDESK_MAIL_FROM", ""),
            acknowledge=_flag(env, "HELPDESK_MAIL_ACKNOWLEDGE"),
            acknowledge_period_hours=number(env, "HELPDESK_MAIL_ACKNOWLEDGE_PERIOD_HOURS", 24),
        )


@dataclass(frozen=True)
class WebhookSettings:
    """How outbound webhooks are delivered."""

    enabled: bool = True  # the serving process runs the deliverer
    timeout_seconds: float = 10.0
    max_response_bytes: int = 64 * 1024  # more of a response is not read
    max_attempts: int = 12
    backoff_seconds: float = 5.0  # the first retry's delay; doubled each attempt, with jitter
    max_backoff_seconds: float = 3600.0
    lease_seconds: float = 60.0  # a delivery claimed by a process that died is retried after this
    poll_seconds: float = 2.0  # how often the deliverer looks for due retries and other processes' events
    allow_networks: tuple[str, ...] = ()  # loopback, private, link-local: refused unless named here

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        """``HELPDESK_WEBHOOK_*`` variables."""
        networks = tuple(n.strip() for n in env.get("HELPDESK_WEBHOOK_ALLOW_NETWORKS", "").split(",") if n.strip())
        unknown = [n for n in networks if n not in WEBHOOK_NETWORKS]
        if unknown:
            raise InvalidSetting(
                "HELPDESK_WEBHOOK_ALLOW_NETWORKS", f"a list of {', '.join(WEBHOOK_NETWORKS)}", unknown[0]
            )
        return cls(
            enabled=_flag(env, "HELPDESK_WEBHOOKS", True),
            timeout_seconds=number(env, "HELPDESK_WEBHOOK_TIMEOUT_SECONDS", 10),
            max_response_bytes=integer(env, "HELPDESK_WEBHOOK_MAX_RESPONSE_BYTES", 64 * 1024, low=1),
            max_attempts=integer(env, "HELPDESK_WEBHOOK_MAX_ATTEMPTS", 12, low=1),
            backoff_seconds=number(env, "HELPDESK_WEBHOOK_BACKOFF_SECONDS", 5),
            max_backoff_seconds=number(env, "HELPDESK_WEBHOOK_MAX_BACKOFF_SECONDS", 3600),
            lease_seconds=number(env, "HELPDESK_WEBHOOK_LEASE_SECONDS", 60),
            poll_seconds=number(env, "HELPDESK_WEBHOOK_POLL_SECONDS", 2),
            allow_networks=networks,
        )
