"""Structured findings about a notebook's text, in one shape for every check."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

# marimo's own severities (marimo._lint.Severity values); only "breaking" makes a notebook invalid.
Severity = Literal["breaking", "runtime", "formatting", "wasm"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding: where (line, cell), what (code, name, message) and how bad (severity).

    `line` and `column` are 1-based positions in the text that was checked (None when the finding
    is about the whole file). `cell_index` is the 0-based position of the cell among the
    notebook's cells; `cell_id` is marimo's id for it when marimo gave one. `code` is marimo's
    rule code (MB001, MF001, ...) or one of Hexa's file-level codes (`not-a-notebook`, `empty`,
    `syntax-error`, `invalid-ipynb`).
    """

    code: str
    name: str
    message: str
    severity: Severity
    line: int | None = None
    column: int | None = None
    cell_index: int | None = None
    cell_id: str | None = None
    fix: str | None = None
    # The offending source line, when the input is not Python (a Mermaid flowchart).
    text: str | None = None

    @property
    def breaking(self) -> bool:
        return self.severity == "breaking"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for people and models: `line 5 (cell 1): MB002 ...`."""
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.cell_index is not None:
            where.append(f"cell {self.cell_index}")
        place = f"{', '.join(where)}: " if where else ""
        return f"{place}{self.code} [{self.severity}] {self.message}"
