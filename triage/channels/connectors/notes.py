"""What we write into the helpdesk's ticket: an internal note with each field's prediction, its calibrated
confidence and evidence, the suggested articles as links and the top recommended replies with their
sources; and which of its fields we set (only confident predictions, only fields nobody set)."""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from typing import Any

from triage.channels.connectors.base import MARKER, RemoteTicket
from triage.channels.connectors.registry import Labels

__all__ = ("field_writes", "note_html", "note_text")

TITLES = {"category": "Category", "priority": "Priority", "assignee": "Team"}
REPLIES_SHOWN = 2


def _field_line(name: str, prediction: Mapping[str, Any]) -> str:
    title = TITLES.get(name, name.title())
    confidence = prediction.get("confidence")
    percent = f"{confidence:.0%}" if isinstance(confidence, int | float) else "?"
    if prediction.get("status") == "ok":
        line = f"{title}: {prediction['label']} ({percent} sure)"
    elif prediction.get("status") == "abstained":
        options = ", ".join(prediction.get("prediction_set") or []) or "no label"
        line = f"{title}: not sure ({percent} for the most likely); could be {options}"
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


def note_text(
    suggestion_id: int,
    predictions: Mapping[str, Mapping[str, Any]],
    articles: Sequence[Mapping[str, Any]],
    replies: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
    bundle_version: str | None,
    written: Mapping[str, str] | None = None,
) -> str:
    """The note as plain text with Markdown links (what a helpdesk that renders Markdown shows)."""
    lines = [f"Triage suggestion (model {bundle_version or 'none'}; internal, not sent to the customer)", ""]
    lines += [f"- {_field_line(name, p)}" for name, p in predictions.items()]
    if written:
        lines += ["", "Set by triage: " + ", ".join(f"{TITLES.get(k, k)} = {v}" for k, v in written.items())]
    if articles:
        lines += ["", "Articles that may answer it:"]
        lines += [f"- [{title}]({url})" for title, url in _articles(articles, base_url)]
    if replies:
        lines += ["", "Recommended replies:"]
        for reply in replies[:REPLIES_SHOWN]:
            lines += [f"> {' '.join(reply['text'].split())}", f"(from {_reply_sources(reply)})", ""]
    lines += ["", f"{MARKER}{suggestion_id}"]
    return "\n".join(lines).strip() + "\n"


def note_html(
    suggestion_id: int,
    predictions: Mapping[str, Mapping[str, Any]],
    articles: Sequence[Mapping[str, Any]],
    replies: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
    bundle_version: str | None,
    written: Mapping[str, str] | None = None,
) -> str:
    """The same note as HTML (for helpdesks whose notes are HTML); every value is escaped."""
    e = html_lib.escape
    parts = [
        f"<p><b>Triage suggestion</b> (model {e(bundle_version or 'none')}; internal, not sent to the customer)</p>"
    ]
    parts.append("<ul>" + "".join(f"<li>{e(_field_line(n, p))}</li>" for n, p in predictions.items()) + "</ul>")
    if written:
        parts.append("<p>Set by triage: " + e(", ".join(f"{TITLES.get(k, k)} = {v}" for k, v in written.items())))
    if articles:
        links = "".join(f'<li><a href="{e(url)}">{e(title)}</a></li>' for title, url in _articles(articles, base_url))
        parts.append(f"<p>Articles that may answer it:</p><ul>{links}</ul>")
    if replies:
        parts.append("<p>Recommended replies:</p>")
        for reply in replies[:REPLIES_SHOWN]:
            text = e(" ".join(reply["text"].split()))
            parts.append(f"<blockquote>{text}</blockquote><p><i>from {e(_reply_sources(reply))}</i></p>")
    parts.append(f"<p><small>{MARKER}{suggestion_id}</small></p>")
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
