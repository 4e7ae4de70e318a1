"""The searchable knowledge base of a serving process, built from the database and kept current.

Articles change independently of the trained classifiers, so their index is not part of a bundle:
every process builds it from the article sections in the database, encoding only passages whose text
is not in the embedding cache, and rebuilds it when the KB's change stamp moves. A rebuild after an
edit therefore re-embeds only the changed sections, and a deleted or archived article drops out of
the next search. The portal's "nothing fits" model is refitted with the index and whenever new portal
outcomes have been recorded (:func:`refit_nothing_fits`): fitted on those outcomes once there are enough,
calibrated on the KB's own pseudo-queries before that (:mod:`triage.knowledge.day_one`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from kb.outcomes import outcomes_stamp
from kb.sections import kb_stamp, searchable_sections
from models.hashing import content_hash
from triage.knowledge.day_one import DAY_ONE_VERSION, KbNothingFitsModel, fit_from_kb
from triage.knowledge.nothing_fits import NothingFitsModel, fit_nothing_fits, portal_outcomes
from triage.knowledge.retrieval import KnowledgeSearch, section_passages
from triage.knowledge.shared_fits import MISSING, shared_fit
from triage.ml.embedding_cache import EmbeddingCache, encode_cached
from triage.ml.encoder import Encoder

__all__ = ("Knowledge", "load_knowledge", "refit_nothing_fits")

SHARED_VERSION = "nothing-fits-1"  # part of a shared fit's key: change it when the fit or its file changes


@dataclass(frozen=True)
class Knowledge:
    """A built index and the change stamp of the KB it was built from."""

    stamp: tuple[Any, ...]
    search: KnowledgeSearch
    encoded: int  # distinct passage texts that had to be encoded (not cached) for this build
    outcomes_stamp: tuple[Any, ...] = ()
    nothing_fits: NothingFitsModel | KbNothingFitsModel | None = None
    encoder_name: str = ""  # the encoder its passages were embedded with
    fitted_on: tuple[Any, ...] = ()  # the KB stamp the nothing-fits model was fitted against

    @property
    def calibration_stale(self) -> bool:
        """Whether the model calibrated on the KB was calibrated on an older KB (refit it when due)."""
        return isinstance(self.nothing_fits, KbNothingFitsModel) and self.fitted_on != self.stamp


def refit_nothing_fits(
    session: Session,
    knowledge: Knowledge,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    limit: int,
    keep: float = 0.97,
    may_fit: bool = True,
) -> Knowledge:
    """``knowledge`` with its "nothing fits" model fitted on the newest ``limit`` portal outcomes against
    its published articles or, while there are too few outcomes, calibrated on the KB itself so that
    ``keep`` of its answerable pseudo-queries still see their article (the model held is kept when it
    is one of those and the KB has not changed since). No model for a KB of too few articles.

    The outcome fit is shared through ``<cache folder>/nothing-fits/`` (:mod:`triage.knowledge.shared_fits`):
    without ``may_fit`` this process only reads it, and gets ``knowledge`` back unchanged until some
    process has written the fit for this state."""
    stamp = outcomes_stamp(session)

    def fit() -> NothingFitsModel | None:
        outcomes = portal_outcomes(session, limit=limit)
        texts = [text for text, _ in outcomes]
        vectors = encode_cached(encoder, texts, cache) if texts else np.zeros((0, encoder.dimension), dtype=np.float32)
        return fit_nothing_fits(knowledge.search, texts, vectors, [h for _, h in outcomes], statuses=("published",))

    key = content_hash(SHARED_VERSION, encoder.name, repr(stamp), repr(knowledge.stamp), str(limit))
    model = shared_fit(cache.path.parent / "nothing-fits", key, fit, may_fit=may_fit)
    if model is MISSING:
        return knowledge
    if model is None and isinstance(knowledge.nothing_fits, KbNothingFitsModel) and not knowledge.calibration_stale:
        model = knowledge.nothing_fits
    elif model is None:
        model = _day_one(knowledge.search, encoder, cache, keep)
    return replace(knowledge, outcomes_stamp=stamp, nothing_fits=model, fitted_on=knowledge.stamp)


def _day_one(
    search: KnowledgeSearch, encoder: Encoder, cache: EmbeddingCache, keep: float
) -> KbNothingFitsModel | None:
    """The model calibrated on the KB, from ``<cache folder>/day-one/`` when this KB's content was already
    calibrated for this encoder (every process and restart would otherwise fit the same model again)."""
    content = sorted(
        (c["slug"], c["revision"], c.get("status"), c.get("language"), c["heading_path"], c["text"])
        for c in search.chunks.values()
    )
    key = content_hash(DAY_ONE_VERSION, encoder.name, repr(keep), json.dumps(content, ensure_ascii=False))
    path = cache.path.parent / "day-one" / f"{key}.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        stored = json.loads(path.read_text(encoding="utf-8"))
        return KbNothingFitsModel.from_dict(stored) if stored else None

    def embed(queries: list[str]) -> np.ndarray:
        return encode_cached(encoder, queries, cache)

    model = fit_from_kb(search, embed, statuses=("published",), keep=keep)
    with contextlib.suppress(OSError):  # losing it costs only a refit
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(model.to_dict() if model else None), encoding="utf-8")
        partial.replace(path)
    return model


def load_knowledge(
    session: Session,
    encoder: Encoder,
    cache: EmbeddingCache,
    *,
    outcomes_limit: int = 20_000,
    day_one_keep: float = 0.97,
    previous: Knowledge | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> Knowledge:
    """Index every draft and published article section (cached passages are not encoded again) and fit
    the "nothing fits" model on the newest ``outcomes_limit`` portal outcomes, or on the KB itself before
    there are enough (``day_one_keep``: see :func:`refit_nothing_fits`).

    With a ``previous`` build that has a model, the model is kept instead: it reads the new index's
    results at prediction time, and refitting on every article edit would cost a search per outcome (or
    per pseudo-query). :func:`refit_nothing_fits` refits it when outcomes change, and a model calibrated
    on an older KB (:attr:`Knowledge.calibration_stale`) when the caller's refit interval has passed."""
    stamp = kb_stamp(session)
    sections = searchable_sections(session)
    passages = [p for section in sections for p in section_passages(section)]
    counts: dict[str, int] = {}

    def track(done: int, total: int) -> None:
        counts.setdefault("cached", done)  # the first call: what the cache already had
        counts["total"] = total
        progress(done, total)

    vectors = encode_cached(encoder, [text for _, text in passages], cache, progress=track)
    search = KnowledgeSearch.build(
        sections, [pid for pid, _ in passages], vectors, cross_language_lexical=not encoder.multilingual
    )
    encoded = counts["total"] - counts["cached"]
    knowledge = Knowledge(stamp=stamp, search=search, encoded=encoded, encoder_name=encoder.name)
    if previous is not None and previous.nothing_fits is not None:
        kept = {"outcomes_stamp": previous.outcomes_stamp, "fitted_on": previous.fitted_on}
        return replace(knowledge, nothing_fits=previous.nothing_fits, **kept)
    return refit_nothing_fits(session, knowledge, encoder, cache, limit=outcomes_limit, keep=day_one_keep)
