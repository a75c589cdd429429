"""Cells -> notebook text, through marimo's own serializer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_CELL_NAME = "_"


@dataclass(frozen=True)
class CellSource:
    """The code of one cell. `name` becomes the cell's function name (marimo shows it)."""

    code: str
    name: str = DEFAULT_CELL_NAME
    hide_code: bool = False


def build_notebook(cells: Sequence[CellSource], *, width: str = "medium") -> str:
    """Serialize cells as a marimo `.py` notebook.

    marimo's codegen derives each cell's parameters and `return` tuple from its code, so the
    text matches what `marimo edit` would save.
    """
    # Imported here: importing marimo takes ~2 s, paid only when a notebook is made.
    from marimo._ast.app_config import _AppConfig
    from marimo._ast.cell import CellConfig
    from marimo._ast.codegen import generate_filecontents

    text: str = generate_filecontents(
        codes=[cell.code for cell in cells],
        names=[cell.name for cell in cells],
        cell_configs=[CellConfig(hide_code=cell.hide_code) for cell in cells],
        config=_AppConfig.from_untrusted_dict({"width": width}),
    )
    return text


def py_string_literal(value: str) -> str:
    """A Python literal for exactly `value`: triple-quoted when that stays readable."""
    if "\n" in value and '"""' not in value and "\\" not in value and not value.endswith('"'):
        return f'"""{value}"""'
    return py_str(value)


def py_str(value: str) -> str:
    """A double-quoted one-line Python literal (JSON's escapes are valid Python escapes)."""
    return json.dumps(value, ensure_ascii=False)


def markdown_cell(markdown: str) -> CellSource:
    """A hidden-code markdown cell; the text is embedded as a safe Python literal."""
    if "\\" in markdown:
        # marimo re-serializes `mo.md("...")` cells as `mo.md("""...""")` without escaping
        # backslashes (and breaks quotes in raw strings); a name keeps it out of that path.
        return CellSource(code=f"_text = {py_str(markdown)}\nmo.md(_text)", hide_code=True)
    return CellSource(code=f"mo.md({py_string_literal(markdown)})", hide_code=True)


def one_line(text: str, limit: int = 200) -> str:
    """Collapse whitespace (labels and prompts go into comments and headings)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
