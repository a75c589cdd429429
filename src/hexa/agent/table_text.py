"""A marimo table output as text: its size, its columns with their types, and its first
rows, which is what a person sees of a dataframe (marimo's `<marimo-table>` element).

The element's attributes are JSON, HTML-escaped. Small tables carry their rows inline
(`data-data`, a JSON string of records); larger ones a URL or a data URL of CSV.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from typing import Any

ROWS_SHOWN = 5
CELL_WIDTH = 40  # characters of one value
_ATTR = re.compile(r"""([\w-]+)=(?:'([^']*)'|"([^"]*)")""")


def attributes(markup: str) -> dict[str, str]:
    """An element's attributes, unescaped."""
    return {
        m.group(1).lower(): html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
        for m in _ATTR.finditer(markup)
    }


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _records(data: Any) -> list[dict[str, Any]] | None:
    """The rows `data-data` holds inline, if it does."""
    if isinstance(data, str):
        if data.startswith("data:") and ";base64," in data:
            kind, _, payload = data[5:].partition(";base64,")
            try:
                raw = base64.b64decode(payload, validate=False).decode("utf-8", "replace")
            except ValueError:
                return None
            if "csv" in kind:
                return list(csv.DictReader(io.StringIO(raw)))[: ROWS_SHOWN + 1]
            data = _json(raw)
        else:
            data = _json(data) if data[:1] in ("[", "{") else None
    if isinstance(data, list) and all(isinstance(r, dict) for r in data):
        return data
    return None


def _value(value: Any) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def describe_table(markup: str) -> str:
    """`<marimo-table ...>` as text: shape, columns (type), then the first rows."""
    attrs = attributes(markup)
    rows, cols = attrs.get("data-total-rows"), attrs.get("data-total-columns")
    shape = f"table: {rows or '?'} rows x {cols or '?'} columns"
    fields = _json(attrs.get("data-field-types")) or []
    names: list[str] = []
    typed = []
    for entry in fields:
        if isinstance(entry, list) and entry:
            names.append(str(entry[0]))
            kinds = entry[1] if len(entry) > 1 and isinstance(entry[1], list) else []
            dtype = kinds[1] if len(kinds) > 1 else kinds[0] if kinds else "?"
            typed.append(f"{entry[0]} ({dtype})")
    lines = [shape]
    if typed:
        lines.append("columns: " + ", ".join(typed))
    records = _records(_json(attrs.get("data-data")))
    if records:
        names = names or [str(k) for k in records[0]]
        shown = records[:ROWS_SHOWN]
        lines.append(f"first {len(shown)} rows:" if len(shown) > 1 else "first row:")
        lines.append(" | ".join(_value(n) for n in names))
        lines += [" | ".join(_value(r.get(n)) for n in names) for r in shown]
    elif rows not in (None, "0"):
        lines.append("(rows not included in the output; get_variables shows sample values)")
    return "\n".join(lines)
