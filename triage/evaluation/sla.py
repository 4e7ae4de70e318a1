"""Replaying a ticket history against an SLA policy: how well the time-to-resolution estimate and the
breach warning would have done.

The history is split by time (the oldest 70% are what the estimate may look at, the newest 30% are
judged). Resolution times are business time of the policy's calendar from creation to resolution (a
history has no record of pauses). Each judged ticket gets, at intake (no time elapsed):

- the estimate's 10th, 50th and 90th percentiles, scored by the pinball loss against the same
  percentiles of its priority's earlier tickets (the per-priority baseline), and the share of tickets
  whose time fell inside the 10-90 interval (80% is the promise);
- the breach warning (probability of missing the resolution target at or above the policy's
  ``at_risk_probability``), scored by precision and recall against the tickets that did miss it, beside
  the same warning from the priority's earlier tickets alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from statistics import mean
from typing import Any

import numpy as np

from models.base import as_utc
from triage.errors import InvalidImport
from triage.sla.policy import SlaPolicy
from triage.sla.risk import QUANTILES, NeighbourDurations, ResolutionEstimate, estimate_resolution, pinball
from triage.text.texts import ticket_text

__all__ = ("evaluate_sla", "history_rows", "render_sla_markdown")

HOUR = 3600.0


def history_rows(tickets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tickets that can be replayed (a priority, a creation and a resolution time), oldest first."""
    rows = []
    for t in tickets:
        created, resolved = t.get("created_at"), t.get("resolved_at")
        if not (t.get("priority") and isinstance(created, datetime) and isinstance(resolved, datetime)):
            continue
        if as_utc(resolved) < as_utc(created):
            continue
        rows.append({**t, "created_at": as_utc(created), "resolved_at": as_utc(resolved)})
    return sorted(rows, key=lambda r: r["created_at"])


def _warning_scores(warned: Sequence[bool], missed: Sequence[bool]) -> dict[str, Any]:
    hits = sum(w and m for w, m in zip(warned, missed, strict=True))
    return {
        "warned": int(sum(warned)),
        "precision": round(hits / sum(warned), 4) if any(warned) else None,
        "recall": round(hits / sum(missed), 4) if any(missed) else None,
    }


def _losses(estimates: Sequence[ResolutionEstimate], y: Sequence[float]) -> dict[str, float]:
    """Mean pinball loss in business hours per percentile, and their mean."""
    out = {}
    for name, q in QUANTILES.items():
        out[name] = mean(pinball(v / HOUR, e.quantile(q) / HOUR, q) for e, v in zip(estimates, y, strict=True))
    out["mean"] = mean(out[name] for name in QUANTILES)
    return {k: round(v, 3) for k, v in out.items()}


def evaluate_sla(
    tickets: Sequence[Mapping[str, Any]],
    policy: SlaPolicy,
    embed: Callable[[list[str]], np.ndarray],
    *,
    test_share: float = 0.3,
    model: NeighbourDurations | None = None,
) -> dict[str, Any]:
    """Replay ``tickets`` (dicts with subject, body, priority, category, requester, created_at and
    resolved_at) under ``policy``; ``embed`` turns texts into vectors. Returns the report."""
    rows = history_rows(tickets)
    if len(rows) < 20:
        raise InvalidImport(
            f"{len(rows)} tickets have a priority, a creation and a resolution time; the replay needs 20",
            field="tickets",
        )
    calendar = policy.calendar
    y = [calendar.between(r["created_at"], r["resolved_at"]) for r in rows]
    cut = int(round(len(rows) * (1 - test_share)))
    train, test = rows[:cut], rows[cut:]
    vectors = embed([ticket_text(r.get("subject"), r.get("body")) for r in rows])
    model = model or NeighbourDurations()
    model.fit(vectors[:cut], y[:cut], [r["priority"] for r in train])
    estimates = model.predict_estimates(vectors[cut:], [r["priority"] for r in test])
    baselines = [estimate_resolution([], model.priors_.get(r["priority"], y[:cut])) for r in test]
    y_test = y[cut:]
    covered = [e.quantile(0.1) <= v <= e.quantile(0.9) for e, v in zip(estimates, y_test, strict=True)]
    base_covered = [e.quantile(0.1) <= v <= e.quantile(0.9) for e, v in zip(baselines, y_test, strict=True)]
    threshold = policy.at_risk_probability
    judged = []
    per_priority: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, v, e, b in zip(test, y_test, estimates, baselines, strict=True):
        target = policy.target_for(r["priority"], r.get("category"), r.get("requester"))
        if target is None or target.resolution_minutes is None:
            continue
        seconds = target.resolution_minutes * 60
        judged.append((v > seconds, e.miss_probability(seconds) >= threshold, b.miss_probability(seconds) >= threshold))
        per_priority[r["priority"]][0] += v <= seconds
        per_priority[r["priority"]][1] += 1
    missed = [j[0] for j in judged]
    return {
        "tickets": len(rows),
        "train": len(train),
        "test": len(test),
        "split": "by time: the oldest tickets are the history, the newest are judged",
        "window": [train[0]["created_at"].isoformat(), test[-1]["created_at"].isoformat()],
        "median_business_hours": round(float(np.median(y_test)) / HOUR, 2),
        "estimate": {
            "method": f"{model.n_neighbors} nearest resolved tickets, prior weight {model.prior_weight}",
            "pinball_hours": _losses(estimates, y_test),
            "interval_80_coverage": round(mean(covered), 4),
        },
        "baseline": {
            "method": "the same priority's earlier tickets",
            "pinball_hours": _losses(baselines, y_test),
            "interval_80_coverage": round(mean(base_covered), 4),
        },
        "breach_warning": {
            "threshold": threshold,
            "judged": len(judged),
            "breached": int(sum(missed)),
            "estimate": _warning_scores([j[1] for j in judged], missed),
            "baseline": _warning_scores([j[2] for j in judged], missed),
        },
        "attainment_by_priority": {
            p: {"met": m, "tickets": n, "attainment": round(m / n, 4)} for p, (m, n) in sorted(per_priority.items())
        },
    }


def render_sla_markdown(report: Mapping[str, Any]) -> str:
    """The replay report as Markdown."""
    est, base, warn = report["estimate"], report["baseline"], report["breach_warning"]
    lines = [
        f"# SLA replay: {report['tickets']} tickets ({report['train']} history, {report['test']} judged)",
        "",
        f"Split {report['split']}; the judged tickets' median resolution took "
        f"{report['median_business_hours']} business hours.",
        "",
        "| time to resolution | pinball p10 | pinball p50 | pinball p90 | mean | 80% interval coverage |",
        "|---|---|---|---|---|---|",
    ]
    for name, part in (("estimate (" + est["method"] + ")", est), ("baseline (" + base["method"] + ")", base)):
        p = part["pinball_hours"]
        lines.append(
            f"| {name} | {p['p10']} | {p['p50']} | {p['p90']} | {p['mean']} | {part['interval_80_coverage']} |"
        )
    lines += [
        "",
        f"Breach warning at probability {warn['threshold']}: {warn['breached']} of {warn['judged']} judged "
        "tickets missed their resolution target.",
        "",
        "| warning from | warned | precision | recall |",
        "|---|---|---|---|",
    ]
    for name in ("estimate", "baseline"):
        w = warn[name]
        lines.append(f"| {name} | {w['warned']} | {w['precision']} | {w['recall']} |")
    lines += ["", "| priority | met | tickets | attainment |", "|---|---|---|---|"]
    for p, a in report["attainment_by_priority"].items():
        lines.append(f"| {p} | {a['met']} | {a['tickets']} | {a['attainment']} |")
    if report.get("command"):
        lines += ["", f"Command: `{report['command']}`"]
    return "\n".join(lines) + "\n"
