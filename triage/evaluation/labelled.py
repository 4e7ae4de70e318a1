"""A labelled file read for evaluation (texts, labels per field, creation times) and its train/test
split (by time when the file has creation times, else stratified at random)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from triage.desk.ticket_import import IMPORT_FIELDS, LABEL_FIELDS, check_columns, read_rows, require_mapped
from triage.errors import InvalidImport
from triage.text.texts import ticket_text

__all__ = ("LabelledData", "adaptation_rows", "load_labelled", "split_rows", "unknown_labels")


@dataclass(frozen=True)
class LabelledData:
    """Texts with their labels per field, and creation times when mapped."""

    texts: list[str]
    labels: dict[str, list[str | None]]
    created_at: list[datetime | None] | None


def load_labelled(path: Path, mapping: Mapping[str, str], fields: Sequence[str]) -> LabelledData:
    """Read a labelled CSV/JSONL; the error names the field, column or row at fault."""
    columns, rows = read_rows(path)
    if not rows:
        raise InvalidImport(f"{path.name} has no rows", field="file")
    for field in fields:  # the built-in label fields, or any other labelled column (a field a deployment adds)
        if field in IMPORT_FIELDS and field not in LABEL_FIELDS:
            raise InvalidImport(f"{field!r} is ticket text or metadata, not a label to evaluate", field="field")
        require_mapped(mapping, [field])
    if "subject" not in mapping and "body" not in mapping:
        raise InvalidImport("map a subject or a body column", field="map.subject")
    check_columns(mapping, columns, path.name)
    texts = []
    for n, row in enumerate(rows, start=1):
        text = ticket_text(
            str(row.get(mapping.get("subject", ""), "") or ""), str(row.get(mapping.get("body", ""), "") or "")
        )
        if not text:
            raise InvalidImport(f"row {n}: the text is empty after cleaning", field=f"row {n}.subject")
        texts.append(text)
    labels = {
        f: [str(r.get(mapping[f])).strip() or None if r.get(mapping[f]) is not None else None for r in rows]
        for f in fields
    }
    created = None
    if "created_at" in mapping:
        created = []
        for n, row in enumerate(rows, start=1):
            value = str(row.get(mapping["created_at"]) or "").strip()
            try:
                created.append(datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None)
            except ValueError as exc:
                raise InvalidImport(
                    f"row {n}: {value!r} is not an ISO 8601 date-time", field=f"row {n}.created_at"
                ) from exc
    return LabelledData(texts=texts, labels=labels, created_at=created)


def split_rows(
    labels: Sequence[str | None], created_at: Sequence[datetime | None] | None, *, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and test row indices among labelled rows: time-based when times exist, else stratified."""
    rows = np.array([i for i, label in enumerate(labels) if label])
    if created_at is not None and all(created_at[i] for i in rows):
        order = rows[np.argsort([created_at[i].timestamp() for i in rows], kind="stable")]
        cut = int(round(len(order) * (1 - test_size)))
        return order[:cut], order[cut:], "time-based (newest rows are the test set)"
    counts = Counter(labels[i] for i in rows)
    rows = np.array([i for i in rows if counts[labels[i]] >= 2])
    train, test = train_test_split(rows, test_size=test_size, random_state=seed, stratify=[labels[i] for i in rows])
    return np.sort(train), np.sort(test), f"stratified, seed {seed}"


def unknown_labels(y_train: Sequence[str], n_unknown: int, seed: int) -> list[str]:
    """The labels the open-set check holds out of training (seeded)."""
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(sorted(set(y_train)), size=n_unknown, replace=False).tolist())


def adaptation_rows(
    data: LabelledData,
    fields: Sequence[str],
    splits: Mapping[str, tuple[np.ndarray, np.ndarray, str]],
    *,
    open_set_unknown: int = 0,
    seed: int = 42,
) -> list[int]:
    """The rows an encoder may be fine-tuned on before the evaluation: none that any field tests on, and
    none of a label the open-set check will hold out (it must stay unknown to the encoder too)."""
    tested = {int(i) for _, test, _ in splits.values() for i in test}
    rows = [i for i in range(len(data.texts)) if i not in tested]
    for field in fields if open_set_unknown else ():
        train = splits[field][0] if splits else [i for i, label in enumerate(data.labels[field]) if label]
        held = set(unknown_labels([data.labels[field][i] for i in train], open_set_unknown, seed))
        rows = [i for i in rows if data.labels[field][i] not in held]
    return rows
