"""What a serving process holds: the encoder, the active bundle and the KB index, each swapped whole
(:mod:`api.lifespan` loads them and keeps them current)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session, sessionmaker

from kb.outcomes import outcomes_stamp
from kb.sections import kb_stamp
from models.db import session_scope
from models.settings import Settings
from triage.assist.assistant import Assistant
from triage.assist.incidents import SpikeSettings, record_incidents, spike_candidates
from triage.assist.recent import RecentTickets
from triage.bundles.adaptation import bundle_encoder, carries_encoder
from triage.bundles.loading import LoadedBundle, load_bundle
from triage.bundles.registry import get_active
from triage.bundles.training import KIND
from triage.desk.privacy import erased_ticket_ids, erasures_stamp
from triage.desk.suggest import Suggestions, suggest, suggest_many
from triage.knowledge.kb_index import Knowledge, load_knowledge, refit_nothing_fits
from triage.knowledge.retrieval import KnowledgeSearch
from triage.ml.batching import MicroBatcher, MicroBatchingEncoder
from triage.ml.embedding_cache import EmbeddingCache
from triage.ml.encoder import Encoder
from triage.ml.novelty import OpenTickets
from triage.sla.watch import watch_clocks
from triage.text.redaction import Redactor

__all__ = ("Serving",)

log = logging.getLogger(__name__)


@dataclass
class Serving:
    """The heavy resources of one process; ``bundle`` and ``knowledge`` are replaced, never mutated."""

    settings: Settings
    sessions: sessionmaker[Session]
    encoder: Encoder | None = None
    bundle: LoadedBundle | None = None
    knowledge: Knowledge | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _kb_lock: threading.Lock = field(default_factory=threading.Lock)
    _fitted_at: float = 0.0  # time.monotonic() of the last "nothing fits" fit
    _erasures: int = -1  # the erasures stamp the held bundle reflects
    _embeddings: EmbeddingCache | None = None  # see embedding_cache()
    configured_encoder: Encoder | None = None  # what HELPDESK_ENCODER names, for bundles without their own
    suggest_batcher: MicroBatcher | None = None  # set by the lifespan when micro-batching is on
    fits_nothing_fits: bool = True  # False: refits of the nothing-fits model are read from the workers' fit
    recent: RecentTickets | None = None  # recent open tickets for the new-kind check (from the settings)

    def __post_init__(self) -> None:
        if self.recent is None:
            self.recent = RecentTickets(self.settings.models.new_kind_recent_days)

    def suggest(self, subject: str | None, body: str | None, top_k: int) -> Suggestions:
        """Suggestions for a draft from the bundle and KB index held now; concurrent requests' drafts are
        encoded and classified together (blocking: call it off the event loop)."""
        if self.suggest_batcher is None:
            recent = self.recent_tickets()
            return suggest(
                self.bundle, self.search, self.encoder, subject=subject, body=body, top_k=top_k, recent=recent
            )
        return self.suggest_batcher.call([(subject, body, top_k)])[0]

    async def suggest_async(self, subject: str | None, body: str | None, top_k: int) -> Suggestions:
        """:meth:`suggest` from the event loop: the draft joins the micro-batch without a thread of its own
        (or, with micro-batching off, is worked on in a worker thread)."""
        if self.suggest_batcher is None:
            return await anyio.to_thread.run_sync(self.suggest, subject, body, top_k)
        return (await self.suggest_batcher.call_async([(subject, body, top_k)]))[0]

    def suggest_many(self, drafts: list[tuple[str | None, str | None, int]]) -> list:
        """Suggestions for several (subject, body, top_k) drafts at once, from one bundle: one encoder
        batch and one call per classifier (blocking: call it off the event loop)."""
        bundle = self.bundle  # one bundle for the whole batch: no request mixes versions
        encoder = self.encoder  # this is a batch already: no hop to the encoder's micro-batching thread
        encoder = encoder.inner if isinstance(encoder, MicroBatchingEncoder) else encoder
        return suggest_many(bundle, self.search, encoder, drafts, recent=self.recent_tickets())

    def recent_tickets(self) -> OpenTickets | None:
        """The recent open tickets, for the new-kind check (see :mod:`triage.assist.recent`;
        blocking); ``None`` before there is a bundle to check against."""
        if self.bundle is None or self.encoder is None:
            return None
        encoder = self.encoder.inner if isinstance(self.encoder, MicroBatchingEncoder) else self.encoder
        return self.recent.read_with(self.sessions, encoder, self.embedding_cache(), self.redactor)

    @cached_property
    def redactor(self) -> Redactor:
        """Redacts personal data (built-in kinds and the operator's patterns) from drafts and exports."""
        return Redactor(self.settings.models.redact_patterns)

    def top_k(self, requested: int | None) -> int:
        """How many results a list gets: the request's number or the default, capped by the settings."""
        api = self.settings.api
        return min(requested or api.default_top_k, api.max_top_k)

    @property
    def base_encoder(self) -> Encoder | None:
        """The configured encoder (``HELPDESK_ENCODER``): what new bundles train from and what the gate and
        the shadow report compare with, even while a bundle's own fine-tuned encoder serves."""
        return self.configured_encoder or self.encoder

    @property
    def search(self) -> KnowledgeSearch | None:
        """The KB index requests use now."""
        return self.knowledge.search if self.knowledge else None

    def embedding_cache(self) -> EmbeddingCache:
        """The embedding cache of the encoder served (opened once, not per request)."""
        cache = self._embeddings
        if cache is None or cache.encoder_name != self.encoder.name:
            cache = self._embeddings = EmbeddingCache.in_artifacts(self.settings.models.artifacts_dir, self.encoder)
        return cache

    def assistant(self) -> Assistant:
        """Agent assist over the bundle and KB index held now."""
        return Assistant(self.bundle, self.search, self.encoder, self.embedding_cache(), self.redactor)

    def spike_settings(self) -> SpikeSettings:
        """When a group of similar tickets counts as a spike (from the settings)."""
        a = self.settings.assist
        return SpikeSettings(
            a.spike_window_hours, a.spike_baseline_days, a.spike_similarity, a.spike_min_size, a.spike_min_ratio
        )

    def detect_incidents_now(self) -> list[dict[str, Any]]:
        """The current spike candidates; records an event for each group that has just crossed the
        threshold (blocking: call it off the event loop)."""
        assistant = self.assistant()
        with session_scope(self.sessions) as session:
            candidates = spike_candidates(session, assistant.vectors, settings=self.spike_settings())
            for event in record_incidents(session, candidates, redact=self.redactor):
                log.warning("incident spike: %d similar tickets (%s)", event.size, event.subject[:80])
            return [{**c, "subject": self.redactor(c["subject"])} for c in candidates]

    def watch_sla_now(self) -> dict[str, int]:
        """Refresh open tickets' SLA states and send ``sla.at_risk`` / ``sla.breached`` (blocking)."""
        with session_scope(self.sessions) as session:
            return watch_clocks(session)

    def refresh_knowledge_now(self, *, due: bool = False) -> bool:
        """Rebuild the KB index if articles changed since it was built, or refit its "nothing fits" model
        if portal outcomes were recorded, or the model calibrated on the KB was calibrated on an older KB,
        and the last fit is older than ``kb_refit_seconds`` (or ``due``: a scheduled refit). A process that
        does not fit (``fits_nothing_fits``) takes the fit another one shared instead. Blocking: call it off
        the event loop (e.g. right after an article edit commits); returns whether it swapped."""
        models = self.settings.models
        limit = models.kb_outcomes_limit
        with self._kb_lock, session_scope(self.sessions) as session:
            held = self.knowledge
            if held is None or held.stamp != kb_stamp(session) or held.encoder_name != self.encoder.name:
                cache = self.embedding_cache()
                keep = models.kb_day_one_keep
                same_encoder = held is not None and held.encoder_name == self.encoder.name
                knowledge = load_knowledge(
                    session,
                    self.encoder,
                    cache,
                    outcomes_limit=limit,
                    day_one_keep=keep,
                    previous=held if same_encoder else None,
                )
                log.info(
                    "KB index rebuilt: %d sections, %d passages encoded",
                    len(knowledge.search.chunks),
                    knowledge.encoded,
                )
            elif (held.outcomes_stamp != outcomes_stamp(session) or held.calibration_stale) and (
                due or time.monotonic() - self._fitted_at >= models.kb_refit_seconds
            ):
                cache = self.embedding_cache()
                keep, may_fit = models.kb_day_one_keep, self.fits_nothing_fits or due
                knowledge = refit_nothing_fits(
                    session, held, self.encoder, cache, limit=limit, keep=keep, may_fit=may_fit
                )
                if knowledge is held:  # not fitted yet by the process whose job it is
                    return False
            else:
                return False
            self._fitted_at = time.monotonic()
            self.knowledge = knowledge  # one reference swap
            if knowledge.nothing_fits is not None and knowledge.nothing_fits is not (held and held.nothing_fits):
                log.info("nothing-fits model fitted: %s", knowledge.nothing_fits.describe())
            return True

    def _active_row(self) -> tuple[tuple[str, str] | None, int]:
        with session_scope(self.sessions) as session:
            row = get_active(session, KIND)
            where = row.folder(self.settings.models.artifacts_dir) if row else None
            return ((row.version, str(where)) if row else None), erasures_stamp(session)

    def _without_erased(self, bundle: LoadedBundle) -> LoadedBundle:
        with session_scope(self.sessions) as session:
            return bundle.without(erased_ticket_ids(session))

    async def refresh(self) -> bool:
        """Load the active bundle if it differs from the one held, or drop newly erased tickets from the
        one held; returns whether it swapped."""
        async with self._lock:
            active, stamp = await anyio.to_thread.run_sync(self._active_row)
            if active is None:
                return False
            if self.bundle and self.bundle.version == active[0]:
                if stamp == self._erasures:
                    return False
                self.bundle = await anyio.to_thread.run_sync(self._without_erased, self.bundle)
                self._erasures = stamp
                log.info("erased tickets dropped from bundle %s", self.bundle.version)
                return True
            bundle = await anyio.to_thread.run_sync(load_bundle, Path(active[1]))
            bundle.ticket_index.ef_search = self.settings.models.ann_ef_search  # HNSW only; exact ignores it
            bundle = await anyio.to_thread.run_sync(self._without_erased, bundle)
            encoder = await anyio.to_thread.run_sync(self._encoder_for, bundle)
            if encoder is self.encoder:
                self.bundle = bundle  # one reference swap: in-flight requests keep the old object
            elif encoder is None:
                log.error(
                    "bundle %s was trained with encoder %s but this server runs %s: retrain with HELPDESK_ENCODER set",
                    bundle.version,
                    bundle.manifest.get("encoder", {}).get("name"),
                    self.encoder.name,
                )
                return False
            else:
                await anyio.to_thread.run_sync(self._switch_encoder, encoder, bundle)
            self._erasures = stamp
            log.info("serving bundle %s", bundle.version)
            return True

    def _encoder_for(self, bundle: LoadedBundle) -> Encoder | None:
        """The encoder that embeds like ``bundle`` (loaded): the one held, the bundle's own fine-tuned one,
        or the configured one (a rollback to a bundle without its own); ``None`` when none of them does."""
        trained_with = bundle.manifest.get("encoder", {}).get("name")
        if self.encoder is None or trained_with == self.encoder.name:
            return self.encoder
        if carries_encoder(bundle.manifest):
            inner = bundle_encoder(bundle.path, bundle.manifest, self.configured_encoder, lazy=False)
        elif self.configured_encoder is not None and trained_with == self.configured_encoder.name:
            inner = self.configured_encoder
        else:
            return None
        return self.micro_batched(inner) if isinstance(self.encoder, MicroBatchingEncoder) else inner

    def micro_batched(self, encoder: Encoder) -> MicroBatchingEncoder:
        """``encoder`` behind a micro-batcher with the settings' wait, batch size and timeout."""
        api = self.settings.api
        wait, timeout = api.batch_wait_ms / 1000, api.batch_timeout_seconds
        return MicroBatchingEncoder(encoder, max_wait=wait, max_batch=api.batch_max, timeout=timeout)

    def _switch_encoder(self, encoder: Encoder, bundle: LoadedBundle) -> None:
        """Serve ``bundle`` with ``encoder``: the KB index is embedded again with it first (the nothing-fits
        model refitted: its memory holds the old encoder's vectors), then encoder, bundle and index are
        swapped together (blocking)."""
        models = self.settings.models
        with self._kb_lock, session_scope(self.sessions) as session:
            cache = EmbeddingCache.in_artifacts(models.artifacts_dir, encoder)
            limit, keep = models.kb_outcomes_limit, models.kb_day_one_keep
            knowledge = load_knowledge(session, encoder, cache, outcomes_limit=limit, day_one_keep=keep)
            old = self.encoder
            self.encoder, self.bundle, self.knowledge = encoder, bundle, knowledge
            self._fitted_at = time.monotonic()
        log.info("serving encoder %s; KB index embedded again (%d passages encoded)", encoder.name, knowledge.encoded)
        if isinstance(old, MicroBatchingEncoder):
            old.close()  # calls still holding it are served by it directly

    async def refresh_knowledge(self) -> bool:
        """:meth:`refresh_knowledge_now` in a worker thread."""
        return await anyio.to_thread.run_sync(self.refresh_knowledge_now)

    async def keep_current(self) -> None:
        """:meth:`refresh` and :meth:`refresh_knowledge`, each failure logged: a damaged bundle or a KB that
        cannot be indexed now must not stop the process, which tries again at its next poll."""
        for refresh in (self.refresh, self.refresh_knowledge):
            try:
                await refresh()
            except Exception:
                log.exception("%s failed", refresh.__name__)
