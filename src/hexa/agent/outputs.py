"""Cell outputs turned into short text a model can read and a person can skim.

marimo outputs are HTML, images, JSON or its own error documents. A model needs the gist
(the numbers printed, the error raised, "a 3x2 table"), not base64 or widget markup, and
everything has a length cap so one chart cannot eat the context window.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from hexa.marimo.models import CellOutputs, ErrorDetail

OUTPUT_LIMIT = 2000  # characters of one cell's output given to the model
CONSOLE_LIMIT = 1500  # characters of one cell's console given to the model

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,[A-Za-z0-9+/=]+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_MARIMO_ELEMENT = re.compile(r"<(marimo-[\w-]+)\b([^>]*)>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ROWS = re.compile(r"data-total-rows=['\"](?:&quot;)?(\d+)", re.I)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def html_to_text(markup: str) -> str:
    """Readable text of an HTML output: images and marimo widgets named, tags dropped."""
    text = _DATA_URL.sub(lambda m: f"[{m.group(1)} data]", markup)
    text = _SCRIPT.sub("", text)

    def element(match: re.Match[str]) -> str:
        tag, attrs = match.group(1).lower(), match.group(2)
        if tag == "marimo-table":
            rows = _ROWS.search(attrs)
            return f"[table{f' with {rows.group(1)} rows' if rows else ''}]"
        return f"[{tag.removeprefix('marimo-')} element]"

    text = _MARIMO_ELEMENT.sub(element, text)
    text = re.sub(r"<img\b[^>]*>", "[image]", text, flags=re.I)
    text = re.sub(r"<(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", "\n", text, flags=re.I)
    text = html.unescape(_TAG.sub("", text))
    text = _SPACE.sub(" ", text)
    return _BLANK_LINES.sub("\n", text).strip()


def describe_errors(errors: Sequence[ErrorDetail] | Sequence[Any]) -> str:
    lines = []
    for err in errors:
        if isinstance(err, dict):
            kind = err.get("type") or "error"
            message = err.get("message") or err.get("msg") or ""
            lines.append(f"{kind}: {message}".rstrip(": "))
        else:
            lines.append(str(err))
    return "\n".join(lines)


def describe_output(mimetype: str | None, data: Any, limit: int = OUTPUT_LIMIT) -> str:
    """One output as text; '' when there is none."""
    if data is None or data == "" or data == []:
        return ""
    kind = (mimetype or "").lower()
    if kind.startswith("image/"):
        size = len(data) if isinstance(data, str) else 0
        return f"[{kind} image, {size * 3 // 4 // 1024} KB]"
    if kind == "application/vnd.marimo+error":
        try:
            parsed = json.loads(data) if isinstance(data, str) else data
        except ValueError:
            parsed = data
        errors = parsed if isinstance(parsed, list) else [parsed]
        return clip("Error: " + describe_errors(errors), limit)
    if not isinstance(data, str):
        data = json.dumps(data, default=str)
    if kind in ("text/html", "text/markdown") or kind.startswith("application/vnd.marimo"):
        return clip(html_to_text(data), limit)
    if kind.startswith("text/") or kind in ("application/json", ""):
        return clip(data, limit)
    return f"[{kind} output, {len(data)} characters]"


def describe_cell_outputs(cell: CellOutputs, limit: int = OUTPUT_LIMIT) -> str:
    """A cell's visual output and console, as text for the model."""
    visual = cell.get("visual_output") or {}
    console = cell.get("console_outputs") or {}
    parts = []
    shown = describe_output(visual.get("visual_mimetype"), visual.get("visual_output"), limit)
    if shown:
        parts.append(f"output:\n{shown}")
    stdout = "".join(console.get("stdout") or [])
    stderr = "".join(console.get("stderr") or [])
    if stdout.strip():
        parts.append(f"stdout:\n{clip(stdout.rstrip(), CONSOLE_LIMIT)}")
    if stderr.strip():
        parts.append(f"stderr:\n{clip(stderr.rstrip(), CONSOLE_LIMIT)}")
    return "\n".join(parts) if parts else "(no output)"


def first_line(text: str, limit: int = 80) -> str:
    """The first non-blank line, clipped: for one-line summaries."""
    for line in text.splitlines():
        if line.strip():
            return clip(line.strip(), limit)
    return ""


def gist(text: str, limit: int = 80) -> str:
    """A one-line gist of a labelled output block ("output:" / "console:" headers skipped)."""
    lines = [line.strip() for line in text.splitlines()]
    content = [line for line in lines if line and not line.endswith(":")]
    return clip(" ".join(content), limit) if content else "no output"
