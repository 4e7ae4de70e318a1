"""The summary of a ``helpdesk bench`` report: the figures the README's table shows, each target beside
its ratio (the first server layout is the one the targets are for)."""

from __future__ import annotations

from typing import Any

__all__ = ("bench_summary",)


def bench_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The figures the README's table shows, with each target beside its ratio."""
    import numpy as np

    first = report["servers"][0]
    one = first["levels"][0]
    ratios = [r["ratio"] for r in first["overhead_rounds"]]
    in_process, bound = report["in_process"], report["cpu_bound_per_second"]
    summary: dict[str, Any] = {
        "encoder": report["encoder"],
        "default layout (workers x threads)": first["layout"],
        "suggest p50 over HTTP, 1 client (ms)": one["p50"],
        "in-process model work p50 (ms)": in_process["total"]["p50"],
        "HTTP / in-process, median of the rounds (target <= 1.3)": float(np.median(ratios)) if ratios else None,
        "HTTP / in-process, each round": " / ".join(str(r) for r in ratios),
    }
    for name, figures in {**in_process["stages"], **report["http_path"]}.items():
        summary[f"stage {name}: p50 / p95 (ms)"] = f"{figures['p50']} / {figures['p95']}"
    summary["model work CPU per suggestion (ms)"] = in_process["cpu_ms_per_request"]
    summary[f"CPU bound: {report['cores']} cores / CPU per suggestion (req/s)"] = bound
    for server in report["servers"]:
        levels = {level["clients"]: level["throughput_per_second"] for level in server["levels"]}
        layout = f"{server['layout']} (workers x threads)"
        summary[f"throughput {layout}, 1 / 8 / 32 clients (req/s)"] = " / ".join(str(levels[c]) for c in (1, 8, 32))
        summary[f"32 clients / 1 client, {layout} (target >= 3)"] = round(levels[32] / levels[1], 2)
        summary[f"32 clients / CPU bound, {layout} (target >= 0.7)"] = round(levels[32] / bound, 2)
        client = next(level for level in server["levels"] if level["clients"] == 32).get("client_cpu_cores")
        summary[f"cores the 32 clients themselves used, {layout}"] = client
    ingest = report["ingest"]
    summary["bulk ingest (tickets/s)"] = ingest["ingest_per_second"]
    summary["encoder alone, same texts (texts/s)"] = ingest["encoder_alone_per_second"]
    summary["ingest / encoder (target >= 0.8)"] = ingest["ratio"]
    for name, result in report.get("encoders", {}).items():
        summary[f"{name}: short texts in batches (texts/s)"] = result["short"]["batch_texts_per_second"]
        summary[f"{name}: short texts one at a time (ms p50)"] = result["short"]["one_at_a_time"]["p50"]
        summary[f"{name}: long texts in batches (texts/s)"] = result["long"]["batch_texts_per_second"]
        summary[f"{name}: short-text speed-up (int8 target >= 2.5)"] = result["short_speedup"]
    for scale in report.get("scale", []):
        n = f"{scale['vectors']:,}"
        summary[f"{n} vectors: index, recall@10 vs exact (target >= 0.95 at 1M)"] = (
            f"{scale['chosen_kind']}, {scale.get('recall_at_10', 1.0)}"
        )
        summary[f"{n} vectors: search p50 exact / chosen (ms)"] = (
            f"{scale['exact_search_ms']['p50']} / {scale['chosen_search_ms']['p50']}"
        )
        summary[f"{n} vectors: MiB per 100k exact / chosen"] = (
            f"{scale['exact_mib_per_100k']} / {scale['chosen_mib_per_100k']}"
        )
        summary[f"{n} vectors: build s exact / chosen"] = (
            f"{scale['exact_build_seconds']} / {scale['chosen_build_seconds']}"
        )
        summary[f"{n} vectors: suggest in-process p50 (ms; target < 30 at 1M)"] = scale["suggest_in_process"]["total"][
            "p50"
        ]
    summary["cold start to ready (s)"] = report["servers"][0]["cold_start_seconds"]
    summary["retrain with promotion, embeddings cached by the ingest (s)"] = report["retrain_seconds"]
    return summary
