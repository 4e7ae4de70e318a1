"""What we write into the helpdesk's ticket: an internal note with each field's prediction, its calibrated
confidence and evidence, the suggested articles as links and the top recommended replies with their
sources; and which of its fields we set (only confident predictions, only fields nobody set)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from triage.channels.connectors.base import MARKER, RemoteTicket
from triage.channels.connectors.registry import Labels

__all__ = ("Note", "field_title", "field_writes")

TITLES = {"category": "Category", "priority": "Priority", "assignee": "Team"}
REPLIES_SHOWN = 2


def field_title(name: str) -> str:
    """How a note names a field: its title, or a field a deployment added as words (``Request type``)."""
    return TITLES.get(name, name.replace("_", " ").capitalize())


def _field_line(name: str, prediction: Mapping[str, Any]) -> str:
    title = field_title(name)
    confidence = prediction.get("confidence")
    percent = f"{confidence:.0%}" if isinstance(confidence, int | float) else "?"
    if prediction.get("status") == "ok":
        line = f"{title}: {prediction['label']} ({percent} sure)"
    elif prediction.get("status") == "abstained":
        options = ", ".join(prediction.get("prediction_set") or []) or "no label"
        top = prediction.get("top") or {}
        probably = f"probably {top['label']} ({percent}), " if top.get("label") else ""
        line = f"{title}: {probably}not sure; could be {options}"
    else:
        return f"{title}: no prediction ({prediction.get('reason') or prediction.get('status')})"
    evidence = (prediction.get("evidence") or {}).get("summary")
    return f"{line}. {evidence}." if evidence else line


def _articles(articles: Sequence[Mapping[str, Any]], base_url: str) -> list[tuple[str, str]]:
    return [(a.get("title") or a["slug"], f"{base_url.rstrip('/')}/help/{a['slug']}") for a in articles]


def _reply_sources(reply: Mapping[str, Any]) -> str:
    named = []
    for source in reply.get("sources") or []:
        if source.get("type") == "ticket":
            named.append(f"ticket #{source.get('id')}")
        elif source.get("type") == "article":
            named.append(f"article {source.get('slug') or source.get('id')}")
    return ", ".join(named) or "similar tickets"


@dataclass(frozen=True)
class Note:
    """The note for one stored suggestion: ``predictions`` and ``articles`` as stored, the recommended
    ``replies``, where article links point (``base_url``) and the fields we are about to set (``written``)."""

    suggestion_id: int
    predictions: Mapping[str, Mapping[str, Any]]
    articles: Sequence[Mapping[str, Any]]
    replies: Sequence[Mapping[str, Any]]
    base_url: str
    bundle_version: str | None
    written: Mapping[str, str] = field(default_factory=dict)

    def _set_line(self) -> str:
        return "Set by triage: " + ", ".join(f"{field_title(k)} = {v}" for k, v in self.written.items())

    def text(self) -> str:
        """The note as plain text with Markdown links (what a helpdesk that renders Markdown shows)."""
        lines = [f"Triage suggestion (model {self.bundle_version or 'none'}; internal, not sent to the customer)", ""]
        lines += [f"- {_field_line(name, p)}" for name, p in self.predictions.items()]
        if self.written:
            lines += ["", self._set_line()]
        if self.articles:
            lines += ["", "Articles that may answer it:"]
            lines += [f"- [{title}]({url})" for title, url in _articles(self.articles, self.base_url)]
        if self.replies:
            lines += ["", "Recommended replies:"]
            for reply in self.replies[:REPLIES_SHOWN]:
                lines += [f"> {' '.join(reply['text'].split())}", f"(from {_reply_sources(reply)})", ""]
        lines += ["", f"{MARKER}{self.suggestion_id}"]
        return "\n".join(lines).strip() + "\n"

    def html(self) -> str:
        """The same note as HTML (for helpdesks whose notes are HTML); every value is escaped."""
        e = html_lib.escape
        version = e(self.bundle_version or "none")
        parts = [f"<p><b>Triage suggestion</b> (model {version}; internal, not sent to the customer)</p>"]
        items = "".join(f"<li>{e(_field_line(n, p))}</li>" for n, p in self.predictions.items())
        parts.append(f"<ul>{items}</ul>")
        if self.written:
            parts.append(f"<p>{e(self._set_line())}</p>")
        if self.articles:
            links = "".join(
                f'<li><a href="{e(url)}">{e(title)}</a></li>' for title, url in _articles(self.articles, self.base_url)
            )
            parts.append(f"<p>Articles that may answer it:</p><ul>{links}</ul>")
        if self.replies:
            parts.append("<p>Recommended replies:</p>")
            for reply in self.replies[:REPLIES_SHOWN]:
                text = e(" ".join(reply["text"].split()))
                parts.append(f"<blockquote>{text}</blockquote><p><i>from {e(_reply_sources(reply))}</i></p>")
        parts.append(f"<p><small>{MARKER}{self.suggestion_id}</small></p>")
        return "".join(parts)


def field_writes(
    remote: RemoteTicket, predictions: Mapping[str, Mapping[str, Any]], write_fields: Sequence[str], labels: Labels
) -> dict[str, str]:
    """The helpdesk fields to set, in its values: each field the deployment lets us write whose prediction
    is committed (calibrated confidence over the bundle's threshold for the target precision), which
    nobody has set in the helpdesk, and whose label has a value there. Nothing on a closed ticket."""
    if remote.status in ("resolved", "closed"):
        return {}
    writes = {}
    for name in write_fields:
        prediction = predictions.get(name) or {}
        if prediction.get("status") != "ok" or not prediction.get("label"):
            continue
        current = remote.fields.get(name)
        if not labels.unset(name, current):
            continue  # a person chose this field: never overwritten
        theirs = labels.theirs(name, prediction["label"])
        if theirs is not None and theirs != current:
            writes[name] = theirs
    return writes
