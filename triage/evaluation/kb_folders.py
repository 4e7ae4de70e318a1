"""KB folders for measurements: one Markdown article per intent of a labelled file, and a folder parsed
into the section records a bundle stores."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kb.importer import read_folder
from kb.rendering import split_sections

__all__ = ("load_kb_sections", "slug_of", "write_intent_articles")


def write_intent_articles(rows: Sequence[tuple[str, str]], out_dir: Path, *, per_intent: int = 5) -> int:
    """One Markdown article per intent from its name and its first ``per_intent`` example texts.

    ``rows`` are (text, intent) pairs in file order, e.g. banking77's training file. Returns the number
    of articles written. This is how a labelled query set stands in for a KB in the measurements.
    """
    examples: dict[str, list[str]] = defaultdict(list)
    for text, intent in rows:
        if len(examples[intent]) < per_intent:
            examples[intent].append(" ".join(text.split()))
    out_dir.mkdir(parents=True, exist_ok=True)
    for intent, texts in examples.items():
        title = intent.replace("_", " ").strip(" ?").capitalize()
        lines = "\n".join(f"- {t}" for t in texts)
        (out_dir / f"{slug_of(intent)}.md").write_text(
            f"---\nslug: {slug_of(intent)}\ntitle: {title}\nstatus: published\n---\n\n"
            f"Questions customers ask about {title.lower()}:\n\n{lines}\n",
            encoding="utf-8",
        )
    return len(examples)


def slug_of(label: str) -> str:
    """The slug a label (an intent, a page name) makes: lower case, runs of other characters as one dash."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def load_kb_sections(folder: Path) -> list[dict[str, Any]]:
    """Parse a KB folder into section records, as the bundle stores them."""
    chunks = []
    for draft in read_folder(folder):
        for section in split_sections(draft.title, draft.body):
            chunks.append(
                {
                    "id": len(chunks) + 1,
                    "slug": draft.slug,
                    "title": draft.title,
                    "language": draft.language,
                    "revision": 1,
                    "heading": section.heading,
                    "heading_path": list(section.heading_path),
                    "anchor": section.anchor,
                    "text": section.text,
                }
            )
    return chunks
