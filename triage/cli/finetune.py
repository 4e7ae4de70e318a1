"""`helpdesk finetune`: adapt the bundled MiniLM to a labelled file (and a KB) on the CPU, in a time budget."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from models.settings import Settings, get_settings

__all__ = ("FineTuningAdapter", "finetune_command")


@click.command("finetune")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--map", "mapping", multiple=True, metavar="FIELD=COLUMN", help="Map text and label fields.")
@click.option("--kb", "kb_folder", type=click.Path(path_type=Path), default=None, help="Also pair this KB's headings.")
@click.option(
    "--minutes", type=click.FloatRange(min=0, min_open=True), default=20.0, show_default=True, help="Time budget."
)
@click.option(
    "--passes",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Passes over the rows (one pair each) and KB sections, if the budget allows.",
)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the fine-tuned encoder.")
@click.option("--seed", default=0, show_default=True)
def finetune_command(
    file: Path, mapping: tuple[str, ...], kb_folder: Path | None, minutes: float, passes: float, out: Path, seed: int
) -> None:
    """Fine-tune MiniLM on FILE's labelled rows (same label: close) and a KB folder's sections (heading
    path: close to its text); use it with HELPDESK_ENCODER=OUT. FILE must hold training rows only."""
    from triage.desk.ticket_import import LABEL_FIELDS, parse_mapping
    from triage.errors import InvalidImport
    from triage.evaluation.kb_folders import load_kb_sections
    from triage.evaluation.labelled import load_labelled
    from triage.ml.finetune import section_pairs

    parsed = parse_mapping(mapping)
    fields = tuple(f for f in LABEL_FIELDS if f in parsed)
    if not fields:
        raise InvalidImport("map at least one label field (category, priority or assignee)", field="map")
    if out.exists() and any(out.iterdir()):
        raise InvalidImport(f"{out} is not empty", field="out")
    data = load_labelled(file, parsed, fields)
    extra = section_pairs(load_kb_sections(kb_folder)) if kb_folder else []
    adapt = FineTuningAdapter(get_settings(), minutes=minutes, passes=passes, folder=out, extra=extra, seed=seed)
    adapt(data.texts, {f: data.labels[f] for f in fields})
    click.echo(f"fine-tuned encoder written to {out}: HELPDESK_ENCODER={out}")


class FineTuningAdapter:
    """``adapter(texts, labels per field)`` for :func:`triage.evaluation.classification.evaluate_file`:
    fine-tunes MiniLM on their label pairs (and ``extra`` pairs) into ``folder`` (by default a new folder
    under the artifacts) and returns an embedding function of the result, which :attr:`encoder` holds."""

    def __init__(
        self,
        settings: Settings,
        *,
        minutes: float,
        passes: float = 1.0,
        folder: Path | None = None,
        extra: Sequence[Any] = (),
        seed: int = 0,
    ) -> None:
        self.settings, self.minutes, self.passes, self.folder = settings, minutes, passes, folder
        self.extra, self.seed = list(extra), seed
        self.encoder: Any = None

    def __call__(self, texts: list[str], labels: dict[str, list[str | None]]) -> Callable[[list[str]], Any]:
        import numpy as np

        from triage.errors import InvalidImport
        from triage.ml.embedding_cache import EmbeddingCache, encode_cached
        from triage.ml.finetune import MIN_PAIRS, finetune_minilm, ticket_pairs

        models = self.settings.models
        pairs = [*ticket_pairs(texts, labels, rng=np.random.default_rng(self.seed)), *self.extra]
        if len(pairs) < MIN_PAIRS:
            raise InvalidImport(f"only {len(pairs)} pairs of same-label rows to fine-tune on", field="file")
        folder = self.folder or models.artifacts_dir / "encoders" / f"tuning-{time.strftime('%Y%m%d-%H%M%S')}"
        click.echo(f"fine-tuning on {len(pairs)} pairs for at most {self.minutes:g} minutes", err=True)
        started = time.monotonic()

        def progress(step: int, steps: int, loss: float) -> None:
            if step % 50 == 0 or step == steps:
                click.echo(f"  step {step}/{steps}, loss {loss:.3f}, {time.monotonic() - started:.0f} s", err=True)

        self.encoder, report = finetune_minilm(
            pairs,
            folder,
            seconds=self.minutes * 60,
            passes=self.passes,
            seed=self.seed,
            encode_batch_size=models.encode_batch_size,
            threads=self.settings.threads_per_worker(),
            progress=progress,
        )
        click.echo(json.dumps(asdict(report)), err=True)
        cache = EmbeddingCache.in_artifacts(models.artifacts_dir, self.encoder)
        return lambda batch: encode_cached(self.encoder, batch, cache)
