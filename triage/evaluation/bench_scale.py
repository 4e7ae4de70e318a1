"""``helpdesk bench`` at scale: ticket indexes of 100k and 1M vectors made from real embeddings.

The datasets hold about 17k texts, so larger indexes are built from their real embeddings plus small
random perturbations: copy ``k`` of vector ``v`` is ``normalise(v + sigma * g / sqrt(d))`` with ``g``
standard normal, so a copy keeps a cosine of about ``1 / sqrt(1 + sigma^2)`` (0.96 at the default
sigma 0.3) to its original. Copies crowd around every real ticket, which makes the approximate search
harder than on uniform data. Queries are real held-out texts. Recall@10 is the ANN index's top 10
against the exact index's top 10 for the same query.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from triage.evaluation.bench import percentiles
from triage.ml.index import VectorIndex

__all__ = ("COPY_STRIDE", "grown_bundle", "perturbed", "resident_bytes", "scale_report")

COPY_STRIDE = 10_000_000  # copy k of base id i gets id k * COPY_STRIDE + i


def resident_bytes() -> int:
    """This process's resident memory (VmRSS) in bytes."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def perturbed(base: np.ndarray, size: int, sigma: float = 0.3, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """``size`` unit vectors: ``base`` itself first, then perturbed copies of it; and their ids."""
    rng = np.random.default_rng(seed)
    n, dim = base.shape
    ids = np.arange(size, dtype=np.int64)
    ids = (ids // n) * COPY_STRIDE + (ids % n)
    vectors = np.empty((size, dim), dtype=np.float32)
    for start in range(0, size, n):
        block = base[: min(n, size - start)]
        if start:
            block = block + (sigma / np.sqrt(dim)) * rng.standard_normal(block.shape, dtype=np.float32)
            block /= np.linalg.norm(block, axis=1, keepdims=True)
        vectors[start : start + len(block)] = block
    return ids, vectors


def _timed_search(index: VectorIndex, queries: np.ndarray, k: int) -> tuple[list[float], list[list[int]]]:
    seconds, found = [], []
    for query in queries:
        start = time.perf_counter()
        hits = index.search(query, k)
        seconds.append(time.perf_counter() - start)
        found.append([i for i, _ in hits])
    return seconds, found


def scale_report(
    base: np.ndarray,
    queries: np.ndarray,
    size: int,
    *,
    exact_limit: int,
    ef_search: int,
    k: int = 10,
) -> tuple[dict[str, Any], VectorIndex]:
    """Build the exact and the size-chosen index over ``size`` vectors grown from ``base``; report build
    time, resident memory per 100k vectors, search p50/p95/p99 of both, and recall@k of the chosen one
    against exact. Returns the report and the chosen index (kept for the suggest measurement)."""
    ids, vectors = perturbed(base, size)
    report: dict[str, Any] = {"vectors": size, "dimension": base.shape[1], "sigma": 0.3}
    built: dict[str, VectorIndex] = {}
    for name, limit in (("exact", size), ("chosen", exact_limit)):
        before = resident_bytes()
        start = time.perf_counter()
        index = VectorIndex.for_size(base.shape[1], size, exact_limit=limit, ef_search=ef_search)
        index.add(ids, vectors)  # in one call, as training does: HNSW built in chunks recalled 0.80, not 0.93
        report[f"{name}_build_seconds"] = round(time.perf_counter() - start, 1)
        report[f"{name}_mib_per_100k"] = round((resident_bytes() - before) / 2**20 / (size / 100_000), 1)
        report[f"{name}_kind"] = index.kind
        built[name] = index
    del vectors
    truth: list[list[int]] = []
    for name, index in built.items():
        index.search(queries[0], k)  # warm
        seconds, found = _timed_search(index, queries, k)
        report[f"{name}_search_ms"] = percentiles(seconds)
        if name == "exact":
            truth = found
        else:
            hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth, strict=True))
            report["recall_at_10"] = round(hits / sum(len(t) for t in truth), 4)
    return report, built["chosen"]


class _Copies(dict):
    """Ticket metadata by id, where a perturbed copy's id answers with its original's metadata."""

    def __missing__(self, key: int) -> dict[str, Any]:
        return dict.__getitem__(self, key % COPY_STRIDE)


def grown_bundle(bundle: Any, index: VectorIndex, items: Sequence[dict[str, Any]]):
    """``bundle`` searching ``index`` (grown from base vectors whose metadata are ``items``, by position)
    instead of its own ticket index; the classifiers are the bundle's."""
    return replace(bundle, ticket_index=index, tickets=_Copies(enumerate(items)))


def scale_section(
    bundle: Any,
    knowledge: Any,
    encoder: Any,
    base: tuple[np.ndarray, Sequence[dict[str, Any]]],
    queries: np.ndarray,
    drafts: Sequence[tuple[str, str]],
    sizes: Sequence[int],
    *,
    exact_limit: int,
    ef_search: int,
) -> list[dict[str, Any]]:
    """:func:`scale_report` at each size, and the in-process suggestion cost with the bundle's ticket
    index replaced by that size's chosen index (so search runs at that size)."""
    from triage.evaluation.bench import in_process_split

    vectors, items = base
    reports = []
    for size in sizes:
        report, index = scale_report(vectors, queries, size, exact_limit=exact_limit, ef_search=ef_search)
        report["suggest_in_process"] = in_process_split(grown_bundle(bundle, index, items), knowledge, encoder, drafts)
        reports.append(report)
        del index
    return reports
