"""Markdown to safe HTML, and section chunks by heading, both with markdown-it-py."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from markdown_it import MarkdownIt

__all__ = ("Section", "anchor_for", "render_html", "split_sections", "to_plain_text")


def _parser() -> MarkdownIt:
    # "js-default" disables raw HTML (it is escaped) and validates link schemes (no javascript:).
    return MarkdownIt("js-default").enable("table")


_MD = _parser()


def anchor_for(heading: str) -> str:
    """A URL fragment for a heading, stable across renders ("Before you start" -> "before-you-start")."""
    text = unicodedata.normalize("NFKD", heading).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-") or "section"


def render_html(markdown: str) -> str:
    """Render Markdown to HTML with raw HTML escaped and headings given ``id`` anchors."""
    tokens = _MD.parse(markdown)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and i + 1 < len(tokens):
            token.attrSet("id", anchor_for(tokens[i + 1].content))
    return _MD.renderer.render(tokens, _MD.options, {})


def to_plain_blocks(markdown: str) -> list[str]:
    """The visible text of each block (paragraph, list item, table cell, code block), whitespace collapsed."""
    parts: list[str] = []
    for token in _MD.parse(markdown):
        if token.type == "inline":
            parts.append("".join(_inline_text(child) for child in token.children or ()))
        elif token.type in {"code_block", "fence"}:
            parts.append(token.content)
    return [block for block in (re.sub(r"\s+", " ", part).strip() for part in parts) if block]


def to_plain_text(markdown: str) -> str:
    """The visible text of a Markdown fragment, whitespace collapsed."""
    return " ".join(to_plain_blocks(markdown))


def _inline_text(token) -> str:
    if token.type in {"text", "code_inline"}:
        return token.content
    return " " if token.type in {"softbreak", "hardbreak"} else ""


@dataclass(frozen=True)
class Section:
    """A part of an article under one heading; ``heading_path`` lists the headings above it.

    ``text`` holds one line per block (paragraph, list item, ...), so passages can be cut from it.
    """

    heading: str
    heading_path: tuple[str, ...]
    anchor: str
    text: str


def split_sections(title: str, markdown: str) -> list[Section]:
    """Split an article at its headings, keeping the heading path (title first) of each section."""
    lines = markdown.splitlines()
    tokens = _MD.parse(markdown)
    headings: list[tuple[int, int, str]] = []  # (level, first line, text)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            headings.append((int(token.tag[1]), token.map[0], tokens[i + 1].content.strip()))
    bounds = [(0, "", 0)] + [(line, text, level) for level, line, text in headings]
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    for n, (start, heading, level) in enumerate(bounds):
        end = bounds[n + 1][0] if n + 1 < len(bounds) else len(lines)
        body_start = start + 1 if heading else start
        text = "\n".join(to_plain_blocks("\n".join(lines[body_start:end])))
        if heading:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
        if not text:
            continue
        path = (title, *(h for _, h in stack))
        name = heading or title
        sections.append(Section(heading=name, heading_path=path, anchor=anchor_for(name), text=text))
    if not sections:
        sections.append(Section(heading=title, heading_path=(title,), anchor=anchor_for(title), text=title))
    return sections
