"""A cell's error as the person would point at it: the exception, its message, and the
line of their own cell that raised it.

marimo's error report gives a wrapper type (`MarimoExceptionRaisedError`) and `str(exc)`
(for a KeyError only `'amout'`); the real exception and the cell's line are in the
traceback on stderr, highlighted as HTML, where library frames (pandas' own) come first
and can push the person's line past any length cap. This module reads that traceback.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_TAG = re.compile(r"<[^>]+>")
# marimo compiles each cell to a file named after its id.
_CELL_FRAME = re.compile(r'File "[^"]*__marimo__cell_([A-Za-z0-9_-]+?)_\.py", line (\d+)')
# The last line of a traceback: `KeyError: 'x'`, `pandas.errors.ParserError: ...`, or a
# bare name (`StopIteration`).
_RAISED = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")
_CHAIN = ("Traceback (most recent call last)", "The above exception", "During handling")
WRAPPER = "MarimoExceptionRaisedError"


@dataclass(frozen=True)
class CellError:
    """One error of one cell. `line` is 1-based in the cell's code; `source` that line."""

    cell_id: str
    exception: str
    message: str
    line: int | None = None
    source: str | None = None

    def headline(self) -> str:
        """`KeyError: 'amout'`."""
        return f"{self.exception}: {self.message}" if self.message else self.exception


def plain(text: str) -> str:
    """A traceback without marimo's syntax-highlighting markup."""
    if "<span" not in text and "<pre" not in text and "<div" not in text:
        return text
    return html.unescape(_TAG.sub("", text))


def cell_line(traceback: str, cell_id: str) -> tuple[int, str | None] | None:
    """The line number in `cell_id`'s code of the innermost frame in that cell, and the
    source line the traceback shows under it."""
    found = None
    lines = traceback.splitlines()
    for index, line in enumerate(lines):
        match = _CELL_FRAME.search(line)
        if match is not None and match.group(1) == cell_id:
            shown = lines[index + 1].strip() if index + 1 < len(lines) else ""
            source = shown if shown and not shown.startswith("File ") else None
            found = (int(match.group(2)), source)
    return found


def raised(traceback: str) -> tuple[str, str] | None:
    """(exception type, message) of the traceback's final exception."""
    lines = [line for line in traceback.rstrip().splitlines() if line.strip()]
    # The final exception follows the last frame (its source line and carets are indented).
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.startswith((" ", "\t")) or line.startswith(_CHAIN):
            break
        if index == 0 or lines[index - 1].startswith((" ", "\t")):
            match = _RAISED.match(line)
            if match is None:
                return None
            message = "\n".join([match.group(2) or "", *lines[index + 1 :]]).strip()
            return match.group(1).rsplit(".", 1)[-1], message
    return None


def read_error(
    cell_id: str, error_type: str, message: str, traceback: str = "", code: str | None = None
) -> CellError:
    """One of marimo's errors for a cell, with the real exception and the person's line
    when the traceback has them (its source from `code` when given)."""
    text = plain(traceback)
    exception, said = error_type, message
    found = raised(text) if text else None
    if found is not None and error_type == WRAPPER:
        exception, said = found
    elif exception == WRAPPER:  # no traceback to read the real type from
        exception = "Exception"
    where = cell_line(text, cell_id) if text and error_type == WRAPPER else None
    if where is None:
        return CellError(cell_id, exception, said)
    line, source = where
    lines = (code or "").splitlines()
    if 0 < line <= len(lines) and lines[line - 1].strip():
        source = lines[line - 1].strip()
    return CellError(cell_id, exception, said, line, source)


def read_errors(
    cell_id: str, errors: Iterable[Mapping[str, Any]], traceback: str, code: str | None = None
) -> list[CellError]:
    """A cell's errors as marimo reports them ({type, message or msg}), each read with the
    cell's traceback (which only an exception's error uses)."""
    return [
        read_error(
            cell_id,
            str(e.get("type") or "error"),
            str(e.get("message") or e.get("msg") or ""),
            traceback,
            code,
        )
        for e in errors
    ]
