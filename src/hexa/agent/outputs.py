"""Cell outputs turned into short text a model can read and a person can skim.

marimo outputs are HTML, images, JSON or its own error documents. A model needs what the
person sees (the numbers printed, a table's columns and first rows, what a chart shows,
the exception and the line of their cell that raised it), not base64, widget markup or a
library's traceback, and everything has a length cap so one chart cannot eat the context
window. Outputs and code are fenced, so chat shows them as code (a `# comment` line is
never a Markdown heading).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from hexa.agent.table_text import describe_table
from hexa.agent.tracebacks import CellError, read_errors
from hexa.marimo.models import CellOutputs, ErrorDetail

OUTPUT_LIMIT = 2000  # characters of one cell's output given to the model
CONSOLE_LIMIT = 1500  # characters of one cell's console given to the model

_DATA_URL = re.compile(r"data:([\w.+-]+/[\w.+-]+);base64,[A-Za-z0-9+/=]+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_MARIMO_ELEMENT = re.compile(r"<(marimo-[\w-]+)\b([^>]*)>", re.I)
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_TABLE = re.compile(r"<marimo-table\b[^>]*>", re.I)
_BACKTICKS = re.compile(r"`+")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/svg+xml")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit} more characters]"


def code_span(text: str) -> str:
    """`text` as inline code, whatever backticks it holds."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def fenced(text: str, lang: str = "text") -> str:
    """`text` as a fenced block, whatever fences it holds."""
    longest = max((len(m) for m in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def html_to_text(markup: str) -> str:
    """Readable text of an HTML output: tables as their columns and first rows, images
    and other marimo widgets named, tags dropped."""
    tables: list[str] = []

    def table(match: re.Match[str]) -> str:
        tables.append(describe_table(match.group(0)))
        return f"\x00{len(tables) - 1}\x00"

    text = _TABLE.sub(table, markup)
    text = _DATA_URL.sub(lambda m: f"[{m.group(1)} data]", text)
    text = _SCRIPT.sub("", text)

    def element(match: re.Match[str]) -> str:
        tag = match.group(1).lower()
        if tag in ("marimo-ui-element", "marimo-table"):
            return ""  # the wrapper of every widget; the table is described
        return f"[{tag.removeprefix('marimo-')} element]"

    text = _MARIMO_ELEMENT.sub(element, text)
    text = re.sub(r"<img\b[^>]*>", "[image]", text, flags=re.I)
    text = re.sub(r"<(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", "\n", text, flags=re.I)
    text = html.unescape(_TAG.sub("", text))
    text = _SPACE.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text).strip()
    return re.sub("\x00(\\d+)\x00", lambda m: f"\n{tables[int(m.group(1))]}\n", text).strip()


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


def describe_error(error: CellError, hints: Sequence[str] = ()) -> str:
    """cell `vblA`, line 2: `KeyError: 'amout'` in `total = ...`, then the hints."""
    where = f"cell `{error.cell_id}`" + (f", line {error.line}" if error.line else "")
    text = f"{where}: {code_span(error.headline())}"
    if error.source:
        text += f" in {code_span(error.source)}"
    return "\n".join([text, *hints])


def _error_document(kind: str, data: Any) -> list[dict[str, Any]] | None:
    """marimo's errors, if the output is its error document (a list of {type, message});
    a JSON output counts only when every item looks like an error."""
    if kind not in ("application/vnd.marimo+error", "application/json"):
        return None
    try:
        parsed = json.loads(data) if isinstance(data, str) else data
    except ValueError:
        return None
    items = parsed if isinstance(parsed, list) else [parsed]
    if not items or not all(isinstance(i, dict) and "type" in i for i in items):
        return None
    if kind.endswith("+error") or all(
        str(i.get("type", "")).endswith("Error") and "message" in i for i in items
    ):
        return items
    return None


def _image(kind: str, data: Any, meta: Any = None) -> str:
    size = ""
    if isinstance(meta, dict) and meta.get("width") and meta.get("height"):
        size = f", {meta['width']}x{meta['height']} px"
    elif isinstance(data, str):
        size = f", {len(data) * 3 // 4 // 1024} KB"
    return f"[{kind} image{size}]"


def _bundle(data: Any, limit: int) -> str:
    """marimo's mimebundle (a figure is one): its image, else its richest text."""
    try:
        bundle = json.loads(data) if isinstance(data, str) else data
    except ValueError:
        return clip(str(data), limit)
    if not isinstance(bundle, dict):
        return clip(str(bundle), limit)
    meta = bundle.get("__metadata__") or {}
    for kind in IMAGE_TYPES:
        if kind in bundle:
            return _image(kind, bundle[kind], meta.get(kind) if isinstance(meta, dict) else None)
    for kind in ("text/html", "text/markdown", "text/plain", "application/json"):
        if kind in bundle:
            return describe_output(kind, bundle[kind], limit)
    return f"[output of type {', '.join(k for k in bundle if k != '__metadata__')}]"


def describe_output(mimetype: str | None, data: Any, limit: int = OUTPUT_LIMIT) -> str:
    """One output as text; '' when there is none."""
    if data is None or data == "" or data == []:
        return ""
    kind = (mimetype or "").lower()
    if kind.startswith("image/"):
        return _image(kind, data)
    if kind == "application/vnd.marimo+mimebundle":
        return _bundle(data, limit)
    errors = _error_document(kind, data)
    if errors is not None:
        return clip("Error: " + describe_errors(errors), limit)
    if not isinstance(data, str):
        data = json.dumps(data, default=str)
    if kind in ("text/html", "text/markdown") or kind.startswith("application/vnd.marimo"):
        return clip(html_to_text(data), limit)
    if kind.startswith("text/") or kind in ("application/json", ""):
        return clip(data, limit)
    return f"[{kind} output, {len(data)} characters]"


def cell_errors(cell: CellOutputs, code: str | None = None) -> list[CellError] | None:
    """The errors a cell's output shows, read with its traceback; None if it has none."""
    visual = cell.get("visual_output") or {}
    kind = (visual.get("visual_mimetype") or "").lower()
    errors = _error_document(kind, visual.get("visual_output"))
    if errors is None:
        return None
    traceback = "".join((cell.get("console_outputs") or {}).get("stderr") or [])
    return read_errors(cell["cell_id"], errors, traceback, code)


def describe_cell_outputs(
    cell: CellOutputs,
    limit: int = OUTPUT_LIMIT,
    *,
    charts: Sequence[str] = (),
    hints: Sequence[str] = (),
) -> str:
    """A cell's visual output and console, as text for the model. An error is its
    exception and the cell's line (its traceback left out); `charts` and `hints` are
    sentences about the output's charts and errors."""
    visual = cell.get("visual_output") or {}
    console = cell.get("console_outputs") or {}
    parts = []
    errors = cell_errors(cell)
    stderr = "".join(console.get("stderr") or [])
    if errors is not None:
        parts.append("error:\n" + "\n".join(describe_error(e) for e in errors))
        parts += list(hints)
        stderr = ""  # the traceback, read into the errors above
    else:
        shown = describe_output(visual.get("visual_mimetype"), visual.get("visual_output"), limit)
        if shown:
            parts.append(f"output:\n{fenced(shown)}")
        parts += list(charts)
    stdout = "".join(console.get("stdout") or [])
    if stdout.strip():
        parts.append(f"stdout:\n{fenced(clip(stdout.rstrip(), CONSOLE_LIMIT))}")
    if stderr.strip():
        parts.append(f"stderr:\n{fenced(clip(stderr.rstrip(), CONSOLE_LIMIT))}")
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
    content = [line for line in lines if line and not line.endswith(":") and line[:3] != "```"]
    return clip(" ".join(content), limit) if content else "no output"
