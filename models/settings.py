"""One Settings tree read from ``HELPDESK_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import make_url

from models.channel_settings import MailSettings, WebhookSettings
from models.env_values import choice, integer, json_object, number, share

__all__ = (
    "ApiSettings",
    "AssistSettings",
    "DatabaseSettings",
    "MailSettings",
    "ModelSettings",
    "Settings",
    "WebhookSettings",
    "WorkSettings",
    "get_settings",
)

_ROOT = Path(__file__).resolve().parent.parent


def _default_sqlite_url(var_dir: Path) -> str:
    return f"sqlite:///{var_dir / 'helpdesk.db'}"


@dataclass(frozen=True)
class DatabaseSettings:
    """Where the database lives and how to talk to it."""

    url: str
    busy_timeout_ms: int = 5000
    echo: bool = False

    @property
    def postgresql(self) -> bool:
        """Whether the URL names a PostgreSQL database (the job queue and shared rate limits need one)."""
        return make_url(self.url).get_backend_name() == "postgresql"


@dataclass(frozen=True)
class ModelSettings:
    """Encoder, artifacts and training defaults."""

    artifacts_dir: Path
    encoder: str = "minilm"
    encode_batch_size: int = 16
    min_examples_per_label: int = 2
    decision: str = "most_probable"  # or "balanced": see triage.ml.decisions
    new_kind_recent_days: float = 7.0  # open tickets this recent count in the new-kind check; 0: they don't
    coverage: float = 0.9
    target_precision: float = 0.9
    kb_min_similarity: float = 0.5
    kb_nothing_fits_probability: float = 0.5
    kb_day_one_keep: float = 0.97  # before outcomes: the KB's answerable pseudo-queries that keep their article
    kb_outcomes_limit: int = 20_000
    kb_refit_seconds: float = 300.0
    promotion_tolerance: float = 0.02
    redact_patterns: Mapping[str, str] = field(default_factory=dict)  # operator's NAME -> regex, redacted as [NAME]
    threads: int = 0  # threads per process for torch, ONNX Runtime, faiss and BLAS; 0: the cores / workers
    ann_exact_limit: int = 50_000  # ticket indexes larger than this use HNSW instead of exact search
    ann_ef_search: int = 256  # HNSW search breadth: higher is slower and closer to exact


DEFAULT_RATE_LIMITS = {"portal": 1200, "agent": 600, "analyst": 300, "admin": 600}


def _rate_limits(env: Mapping[str, str]) -> dict[str, int]:
    return {role: integer(env, f"HELPDESK_RATE_LIMIT_{role.upper()}", n) for role, n in DEFAULT_RATE_LIMITS.items()}


@dataclass(frozen=True)
class ApiSettings:
    """HTTP serving options."""

    host: str = "127.0.0.1"
    port: int = 8000
    default_top_k: int = 5
    max_top_k: int = 20
    reload_poll_seconds: float = 10.0
    sla_poll_seconds: float = 60.0  # how often open tickets' SLA states are refreshed (sla.* events sent)
    cors_origins: tuple[str, ...] = ()  # browsers on these origins may call the API; none by default
    rate_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))  # per key, a minute
    unknown_key_rate_limit: int = 30  # unknown or revoked keys a client address may send a minute
    public_url: str = ""  # where users reach the server (pages' embed snippets); default http://host:port
    batch_wait_ms: float = 2.0  # under load, how long the encoder waits to fill a micro-batch
    batch_max: int = 64  # texts per micro-batch; 1 turns micro-batching off
    batch_timeout_seconds: float = 60.0  # a request waits this long for the encoder's worker, then gets 503
    key_cache_seconds: float = 5.0  # a revoked key stops working on other processes within this time
    workers: int = 0  # server processes (`helpdesk serve`), each with its own encoder and bundle; 0: chosen
    workers_dir: str = ""  # set by `helpdesk serve` for its worker processes: their background lock, rate windows
    translations_dir: Path | None = None  # a deployment's own translation files (see api.i18n); None: shipped only

    def base_url(self) -> str:
        """The public base URL users reach this server on: ``public_url``, else ``http://host:port``
        (never a request's ``Host`` header, which a client chooses)."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class AssistSettings:
    """Agent assist: recommended replies, duplicate candidates and incident spikes."""

    min_similarity: float = 0.5  # a source less similar to the ticket than this is not recommended
    duplicate_threshold: float = 0.8
    duplicate_window_days: float = 7.0
    spike_window_hours: float = 1.0
    spike_baseline_days: float = 14.0
    spike_similarity: float = 0.55
    spike_min_size: int = 5
    spike_min_ratio: float = 3.0
    incident_poll_seconds: float = 60.0


@dataclass(frozen=True)
class WorkSettings:
    """Where background work runs (``embedded``: threads of the serving process; ``queue``: ``helpdesk
    worker`` processes on the job queue, PostgreSQL only) and where rate limits are counted."""

    background: str = "embedded"
    worker_concurrency: int = 4  # jobs a worker runs at once (training holds one slot; periodic checks the rest)
    job_attempts: int = 3  # a job that fails unexpectedly is tried this often in all, with back-off between
    retry_wait_seconds: float = 5.0  # the first retry's wait; each next one waits this to the power of the attempt
    stalled_seconds: float = 30.0  # a worker silent this long is dead: its jobs go to another worker
    rate_limit_store: str = "auto"  # "process", "database", or "auto": the database on PostgreSQL


@dataclass(frozen=True)
class Settings:
    """The whole configuration; build it with :meth:`from_env` or directly in tests."""

    database: DatabaseSettings
    models: ModelSettings
    api: ApiSettings = field(default_factory=ApiSettings)
    assist: AssistSettings = field(default_factory=AssistSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    work: WorkSettings = field(default_factory=WorkSettings)
    datasets_dir: Path = _ROOT.parent / "shared" / "datasets"
    data_dir: Path = _ROOT / "data"

    def threads_per_worker(self) -> int:
        """``HELPDESK_THREADS`` when set, else this machine's cores shared among the server's workers (all of
        them for a process that is not a server worker)."""
        return self.models.threads or max(1, (os.cpu_count() or 1) // max(1, self.api.workers))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read every ``HELPDESK_*`` variable, falling back to embedded defaults."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("HELPDESK_VAR_DIR", _ROOT / "var"))
        return cls(
            database=DatabaseSettings(
                url=env.get("HELPDESK_DATABASE_URL", _default_sqlite_url(var_dir)),
                busy_timeout_ms=integer(env, "HELPDESK_DATABASE_BUSY_TIMEOUT_MS", 5000),
                echo=env.get("HELPDESK_DATABASE_ECHO", "") in {"1", "true", "yes"},
            ),
            models=ModelSettings(
                artifacts_dir=Path(env.get("HELPDESK_ARTIFACTS_DIR", var_dir / "artifacts")),
                encoder=env.get("HELPDESK_ENCODER", "minilm"),
                encode_batch_size=integer(env, "HELPDESK_ENCODE_BATCH_SIZE", 16, low=1),
                min_examples_per_label=integer(env, "HELPDESK_MIN_EXAMPLES_PER_LABEL", 2, low=1),
                decision=choice(env, "HELPDESK_DECISION", ("most_probable", "balanced")),
                new_kind_recent_days=number(env, "HELPDESK_NEW_KIND_RECENT_DAYS", 7),
                coverage=share(env, "HELPDESK_COVERAGE", 0.9),
                target_precision=share(env, "HELPDESK_TARGET_PRECISION", 0.9),
                kb_min_similarity=number(env, "HELPDESK_KB_MIN_SIMILARITY", 0.5, low=-1, high=1),
                kb_nothing_fits_probability=number(env, "HELPDESK_KB_NOTHING_FITS_PROBABILITY", 0.5, high=1),
                kb_day_one_keep=share(env, "HELPDESK_KB_DAY_ONE_KEEP", 0.97),
                kb_outcomes_limit=integer(env, "HELPDESK_KB_OUTCOMES_LIMIT", 20000),
                kb_refit_seconds=number(env, "HELPDESK_KB_REFIT_SECONDS", 300),
                promotion_tolerance=number(env, "HELPDESK_PROMOTION_TOLERANCE", 0.02),
                redact_patterns=json_object(env, "HELPDESK_REDACT_PATTERNS"),
                threads=integer(env, "HELPDESK_THREADS", 0),
                ann_exact_limit=integer(env, "HELPDESK_ANN_EXACT_LIMIT", 50000),
                ann_ef_search=integer(env, "HELPDESK_ANN_EF_SEARCH", 256, low=1),
            ),
            api=ApiSettings(
                host=env.get("HELPDESK_HOST", "127.0.0.1"),
                port=integer(env, "HELPDESK_PORT", 8000, low=1, high=65535),
                default_top_k=integer(env, "HELPDESK_DEFAULT_TOP_K", 5, low=1),
                max_top_k=integer(env, "HELPDESK_MAX_TOP_K", 20, low=1),
                reload_poll_seconds=number(env, "HELPDESK_RELOAD_POLL_SECONDS", 10),
                sla_poll_seconds=number(env, "HELPDESK_SLA_POLL_SECONDS", 60),
                cors_origins=tuple(o.strip() for o in env.get("HELPDESK_CORS_ORIGINS", "").split(",") if o.strip()),
                rate_limits=_rate_limits(env),
                unknown_key_rate_limit=integer(env, "HELPDESK_UNKNOWN_KEY_RATE_LIMIT", 30),
                public_url=env.get("HELPDESK_PUBLIC_URL", "").rstrip("/"),
                key_cache_seconds=number(env, "HELPDESK_KEY_CACHE_SECONDS", 5),
                batch_wait_ms=number(env, "HELPDESK_BATCH_WAIT_MS", 2),
                batch_max=integer(env, "HELPDESK_BATCH_MAX", 64, low=1),
                batch_timeout_seconds=number(env, "HELPDESK_BATCH_TIMEOUT_SECONDS", 60),
                workers=integer(env, "HELPDESK_WORKERS", 0, words={"auto": 0}),
                workers_dir=env.get("HELPDESK_WORKERS_DIR", ""),
                translations_dir=Path(d) if (d := env.get("HELPDESK_TRANSLATIONS_DIR", "").strip()) else None,
            ),
            assist=AssistSettings(
                min_similarity=number(env, "HELPDESK_ASSIST_MIN_SIMILARITY", 0.5, low=-1, high=1),
                duplicate_threshold=number(env, "HELPDESK_DUPLICATE_THRESHOLD", 0.8, low=-1, high=1),
                duplicate_window_days=number(env, "HELPDESK_DUPLICATE_WINDOW_DAYS", 7),
                spike_window_hours=number(env, "HELPDESK_SPIKE_WINDOW_HOURS", 1),
                spike_baseline_days=number(env, "HELPDESK_SPIKE_BASELINE_DAYS", 14),
                spike_similarity=number(env, "HELPDESK_SPIKE_SIMILARITY", 0.55, low=-1, high=1),
                spike_min_size=integer(env, "HELPDESK_SPIKE_MIN_SIZE", 5, low=1),
                spike_min_ratio=number(env, "HELPDESK_SPIKE_MIN_RATIO", 3),
                incident_poll_seconds=number(env, "HELPDESK_INCIDENT_POLL_SECONDS", 60),
            ),
            mail=MailSettings.from_env(env),
            webhooks=WebhookSettings.from_env(env),
            work=WorkSettings(
                background=choice(env, "HELPDESK_BACKGROUND", ("embedded", "queue")),
                worker_concurrency=integer(env, "HELPDESK_WORKER_CONCURRENCY", 4, low=1),
                job_attempts=integer(env, "HELPDESK_JOB_ATTEMPTS", 3, low=1),
                retry_wait_seconds=number(env, "HELPDESK_JOB_RETRY_WAIT_SECONDS", 5),
                stalled_seconds=number(env, "HELPDESK_WORKER_STALLED_SECONDS", 30),
                rate_limit_store=choice(env, "HELPDESK_RATE_LIMIT_STORE", ("auto", "process", "database")),
            ),
            datasets_dir=Path(env.get("HELPDESK_DATASETS_DIR", _ROOT.parent / "shared" / "datasets")),
            data_dir=Path(env.get("HELPDESK_DATA_DIR", _ROOT / "data")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()
