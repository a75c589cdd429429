"""The first pass over Mermaid text: front matter, `%%` comments, and statements split on
newlines and on `;` outside quotes and brackets (a quoted label may span lines).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hexa.errors import MermaidSyntaxError


@dataclass(frozen=True)
class Statement:
    text: str
    line_no: int
    line: str  # the physical line the statement starts on, for error messages


def split_statements(text: str) -> tuple[str | None, list[Statement]]:
    """Split into statements (newline or `;` outside quotes and brackets), drop comments,
    and read the front matter title."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title: str | None = None
    first = 0
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first < len(lines) and lines[first].strip() == "---":
        end = first + 1
        while end < len(lines) and lines[end].strip() != "---":
            match = re.match(r"\s*title\s*:\s*(.*?)\s*$", lines[end])
            if match and not lines[end].startswith((" ", "\t")):
                title = match.group(1).strip("\"'") or None
            end += 1
        if end == len(lines):
            raise MermaidSyntaxError("front matter `---` is never closed", first + 1, lines[first])
        first = end + 1

    statements: list[Statement] = []
    buf: list[str] = []
    start_no = 0
    in_quote = False
    depth = 0

    def flush() -> None:
        chunk = "".join(buf).strip()
        if chunk:
            statements.append(Statement(chunk, start_no + 1, lines[start_no]))
        buf.clear()

    for index in range(first, len(lines)):
        raw = lines[index]
        if not in_quote:
            if raw.lstrip().startswith("%%"):
                continue  # comments and %%{init}%% directives take the whole line
            start_no = index
            depth = 0
        for char in raw:
            if char == '"':
                in_quote = not in_quote
            elif not in_quote:
                if char in "[({":
                    depth += 1
                elif char in "])}":
                    depth = max(0, depth - 1)
                elif char == ";" and depth == 0:
                    flush()
                    start_no = index
                    continue
            buf.append(char)
        if in_quote:
            buf.append("\n")  # a quoted (markdown) label may span lines
        else:
            flush()
    if in_quote:
        raise MermaidSyntaxError("a quoted label is never closed", start_no + 1, lines[start_no])
    return title, statements
