"""Evaluation reports as JSON (everything) and Markdown (what a person reads first)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ("render_kb_markdown", "render_markdown", "write_report")


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "n/a" if not math.isfinite(value) else f"{value:.3f}"
    return str(value)


def render_markdown(report: dict[str, Any]) -> str:
    """A readable summary of an evaluation report."""
    lines = [f"# Evaluation of {report['file']}", ""]
    if report.get("command"):
        lines += [f"Command: `{report['command']}`", ""]
    if report.get("settings"):
        lines += ["Settings: " + ", ".join(f"{k} {_fmt(v)}" for k, v in report["settings"].items()), ""]
    for field, r in report["fields"].items():
        lines += [
            f"## {field}",
            "",
            f"Split: {r['split']}; rows: train {r['rows']['train']}, test {r['rows']['test']}.",
            "",
        ]
        bands = list(r["model"].get("macro_f1_by_band", {}))
        lines += [
            "| model | accuracy | macro-F1 | macro-F1, labels with enough training rows | "
            + "".join(f"macro-F1, labels with {b} training rows | " for b in bands)
            + "answered at the target precision |",
            "|---|---|---|---|" + "---|" * len(bands) + "---|",
        ]
        rows = {
            f"triage classifier, {kind.replace('_', ' ')} decisions"
            + (" (in use)" if kind == r["model"].get("decision") else ""): m
            for kind, m in r.get("decisions", {"most_probable": r["model"]}).items()
        }
        rows.update({f"baseline: {name}": b for name, b in r["baselines"].items()})
        for name, m in rows.items():
            by_band = {b: m.get("macro_f1_by_band", {}).get(b, {}) for b in bands}
            lines.append(
                f"| {name} | {_fmt(m['accuracy'])} | {_fmt(m['macro_f1'])} | {_fmt(m['macro_f1_known_labels'])} | "
                + "".join(f"{_fmt(v.get('macro_f1'))} ({v.get('labels', 0)}) | " for v in by_band.values())
                + f"{_fmt(m.get('abstention', {}).get('coverage'))} |"
            )
        lines += ["", f"Stacker: {r['model']['stacker']}. Label counts per band in brackets."]
        ab, cf = r["abstention"], r["conformal"]
        lines += [
            "",
            f"- Training time: {_fmt(r['model']['fit_seconds'])} s",
            f"- Calibration error (ECE, 15 bins): {_fmt(r['calibration']['ece'])}; a perfectly calibrated model "
            f"would show {_fmt(r['calibration']['ece_if_perfectly_calibrated']['mean'])} on this many rows "
            f"(95th percentile {_fmt(r['calibration']['ece_if_perfectly_calibrated']['p95'])})",
            f"- Conformal sets at {cf['target_coverage']:.0%}: coverage {_fmt(cf['coverage'])}, "
            f"mean size {_fmt(cf['mean_set_size'])}",
            f"- Abstention for {ab['target_precision']:.0%} precision: threshold {_fmt(ab['threshold'])}, "
            f"precision {_fmt(ab['precision'])} on the {_fmt(ab['coverage'])} of rows answered",
            f"- Labels with insufficient data (never predicted): {', '.join(r['insufficient_data']) or 'none'}",
        ]
        if "open_set" in r:
            o = r["open_set"]
            lines.append(
                f"- Open set ({len(o['held_out_labels'])} labels held out of training): AUROC of 1 - top probability "
                f"{_fmt(o['auroc'])}, of unfamiliarity {_fmt(o.get('auroc_familiarity'))}, of the new-kind score "
                f"{_fmt(o.get('auroc_new_kind'))}; abstained on "
                f"{_fmt(o['unknown_rows_abstained'])} of unknown rows and {_fmt(o['known_rows_abstained'])} of known "
                f"rows ({_fmt(o.get('unknown_rows_new_kind'))} and {_fmt(o.get('known_rows_new_kind'))} as a new kind "
                "of ticket)"
            )
            if "in_arrival_order" in o:
                a = o["in_arrival_order"]
                lines.append(
                    f"- The same in arrival order (each test row with the ones before it as recent open tickets): "
                    f"AUROC of the new-kind score {_fmt(a['auroc_new_kind'])}; abstained on "
                    f"{_fmt(a['unknown_rows_abstained'])} of unknown rows and {_fmt(a['known_rows_abstained'])} of "
                    f"known rows ({_fmt(a['unknown_rows_new_kind'])} and {_fmt(a['known_rows_new_kind'])} new)"
                )
        per_class = {k: v for k, v in r["per_class"].items() if isinstance(v, dict) and "support" in v}
        classes = [k for k in per_class if k not in {"macro avg", "weighted avg", "micro avg"}]
        lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for label in sorted(classes, key=lambda k: -per_class[k]["support"]):
            c = per_class[label]
            scores = " | ".join(_fmt(c[k]) for k in ("precision", "recall", "f1-score"))
            lines.append(f"| {label} | {scores} | {c['support']:.0f} |")
        matrix = r["confusion_matrix"]
        if len(matrix["labels"]) <= 15:
            lines += ["", "Confusion matrix (rows: true label, columns: predicted):", ""]
            lines.append("| | " + " | ".join(matrix["labels"]) + " |")
            lines.append("|---" * (len(matrix["labels"]) + 1) + "|")
            for label, row in zip(matrix["labels"], matrix["matrix"], strict=True):
                lines.append(f"| {label} | " + " | ".join(map(str, row)) + " |")
        lines.append("")
    return "\n".join(lines)


def render_kb_markdown(report: dict[str, Any]) -> str:
    """A readable summary of a KB retrieval report (:func:`triage.evaluation.kb.evaluate_kb`)."""
    lines = [f"# KB retrieval: {report['queries']} against {report['kb']}", ""]
    if report.get("command"):
        lines += [f"Command: `{report['command']}`", ""]
    lines += [
        f"{report['articles']} articles, {report['sections']} sections, {report['passages']} passages; "
        f"{report['rows']['queries']} queries, {report['rows']['unanswerable']} without an article.",
        "",
        "| method | recall@1 | recall@3 | recall@5 | MRR |",
        "|---|---|---|---|---|",
    ]
    for method, m in report["methods"].items():
        lines.append(
            f"| {method} | " + " | ".join(_fmt(m[k]) for k in ("recall@1", "recall@3", "recall@5", "mrr")) + " |"
        )
    if "no_answer" in report:
        n = report["no_answer"]
        held = n["held_out"]
        lines += [
            "",
            f"No answer ({len(report['removed_articles'])} articles removed; score: {n['score']}): AUROC "
            f"{_fmt(n['auroc'])}. Threshold chosen on half of the queries (similarity below "
            f"{_fmt(n['similarity_threshold'])} shows nothing); on the other half it refuses "
            f"{_fmt(held['unanswerable_refused'])} of unanswerable queries and keeps the right article in the "
            f"top 3 for {_fmt(held['answerable_answered_with_article_in_top3'])} of answerable ones.",
        ]
    if "nothing_fits" in report:
        n = report["nothing_fits"]
        lines += [
            "",
            f"Nothing fits, learned from {n['model']['outcomes']} earlier outcomes in {n['history']} "
            f"({n['model']['nothing_helped']} that nothing helped): AUROC {_fmt(n.get('auroc'))}; at "
            f"P(nothing fits) >= {_fmt(n['probability_threshold'])} it refuses {_fmt(n['unanswerable_refused'])} "
            f"of unanswerable queries and keeps the right article in the top 3 for "
            f"{_fmt(n['answerable_answered_with_article_in_top3'])} of answerable ones; calibration error "
            f"{_fmt(n['calibration_ece'])}.",
        ]
    if report.get("nothing_fits_from_kb"):
        n = report["nothing_fits_from_kb"]
        lines += [
            "",
            f"Nothing fits from day one, calibrated on the KB alone ({n['model']['pseudo_queries']} pseudo-queries, "
            f"{n['model']['unanswerable']} unanswered; cut-off {_fmt(n['probability_threshold'])} keeps "
            f"{_fmt(n['keep'])} of the answered ones): AUROC {_fmt(n.get('auroc'))}; it refuses "
            f"{_fmt(n['unanswerable_refused'])} of unanswerable queries and keeps the right article in the top 3 "
            f"for {_fmt(n['answerable_answered_with_article_in_top3'])} of answerable ones; calibration error "
            f"{_fmt(n['calibration_ece'])}.",
        ]
    if "similarity_floor" in report:
        n = report["similarity_floor"]
        lines += [
            "",
            f"The similarity floor (nothing below {_fmt(n['min_similarity'])}; for a KB too small to calibrate on) "
            f"refuses {_fmt(n['unanswerable_refused'])} of unanswerable queries and keeps the right article in "
            f"the top 3 for {_fmt(n['answerable_answered_with_article_in_top3'])} of answerable ones.",
        ]
    return "\n".join(lines) + "\n"


def write_report(
    report: dict[str, Any],
    out_dir: Path,
    name: str = "evaluation",
    render: Callable[[dict[str, Any]], str] = render_markdown,
) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md`` (made by ``render``) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    md_path.write_text(render(report), encoding="utf-8")
    return json_path, md_path
