"""Check notebook text with marimo's own checker (the rules behind `marimo check`).

In-process, not `python -m marimo check` in a subprocess: the linter is the same code, a
check takes milliseconds instead of the ~2 s a fresh interpreter needs to import marimo, and
its objects carry cell ids and lines we would otherwise re-parse from JSON. Two of its habits
need care, handled here:
- `Linter.run_streaming` calls `asyncio.run`, which cannot nest in a running loop, so a call
  from inside one hops to a worker thread.
- it swaps marimo's logger handlers and redirects stdout/stderr while parsing (process-global
  state), so checks are serialised with a lock; parallel checks would corrupt the handlers.
The rule set is passed explicitly, so a notebook's own `[tool.marimo.lint]` header cannot
switch off the breaking rules.
"""

from __future__ import annotations

import ast
import asyncio
import bisect
import tempfile
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hexa.diagnostics import Diagnostic, Severity
from hexa.errors import InvalidNotebookError

_LINT_LOCK = threading.Lock()
_SEVERITIES: frozenset[str] = frozenset({"breaking", "runtime", "formatting", "wasm"})


@dataclass(frozen=True)
class ValidationResult:
    """All findings for one text. `valid` is False iff any finding is breaking."""

    diagnostics: tuple[Diagnostic, ...]

    @property
    def valid(self) -> bool:
        return not any(d.breaking for d in self.diagnostics)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.breaking)

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if not d.breaking)


def validate_notebook(text: str) -> ValidationResult:
    """Check `text` as a marimo `.py` notebook. Safe to call from sync code or a running loop
    (prefer `validate_notebook_async` there: this one blocks the loop for the check)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _validate(text)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hexa-validate") as pool:
        return pool.submit(_validate, text).result()


async def validate_notebook_async(text: str) -> ValidationResult:
    return await asyncio.to_thread(_validate, text)


def require_valid(text: str) -> ValidationResult:
    """`validate_notebook`, raising InvalidNotebookError (carrying the diagnostics and the
    text) when anything is breaking."""
    result = validate_notebook(text)
    if not result.valid:
        raise InvalidNotebookError(result.diagnostics, text=text)
    return result


def _validate(text: str) -> ValidationResult:
    if not text.strip():
        return ValidationResult((_file_diagnostic("empty", "The notebook is empty.", line=None),))
    # marimo strips the text before parsing; lines it reports are relative to the stripped text.
    offset = text[: len(text) - len(text.lstrip())].count("\n")
    with tempfile.TemporaryDirectory(prefix="hexa-validate-") as tmp:
        path = Path(tmp) / "notebook.py"
        path.write_text(text, encoding="utf-8")
        status = _lint_file(path)
    if status.failed or status.skipped or status.notebook is None:
        return ValidationResult((_not_a_notebook(text, status),))
    cells = list(status.notebook.cells)
    linenos = [int(cell.lineno) + offset for cell in cells]
    found: list[Diagnostic] = []
    for diag in status.diagnostics:
        found.extend(_convert(diag, offset, linenos, cells))
    # Breaking findings first, each group in file order.
    found.sort(key=lambda d: (not d.breaking, d.line is None, d.line or 0))
    return ValidationResult(tuple(found))


def _lint_file(path: Path) -> Any:
    """Run marimo's linter on one file and return its `FileStatus`."""
    # Imported here: importing marimo takes ~2 s, paid only when a notebook is checked.
    from marimo._lint.linter import Linter
    from marimo._lint.rules import DEFAULT_RULE_CODES

    linter = Linter(rules=[rule() for rule in DEFAULT_RULE_CODES.values()])
    with _LINT_LOCK:
        linter.run_streaming(iter([path]))
    return linter.files[0]


def _convert(diag: Any, offset: int, linenos: list[int], cells: list[Any]) -> list[Diagnostic]:
    """One marimo Diagnostic -> one of ours per line it names (MB002 names every defining cell)."""
    lines = diag.line if isinstance(diag.line, list) else [diag.line]
    columns = diag.column if isinstance(diag.column, list) else [diag.column]
    cell_ids = list(diag.cell_id or [])
    severity_value = getattr(diag.severity, "value", None)
    severity: Severity = severity_value if severity_value in _SEVERITIES else "runtime"
    out: list[Diagnostic] = []
    for i, raw_line in enumerate(lines):
        line = int(raw_line) + offset if isinstance(raw_line, int) and raw_line > 0 else None
        column = columns[i] if i < len(columns) and isinstance(columns[i], int) else None
        cell_index = _cell_at(line, linenos)
        message = str(diag.message)
        if diag.code == "MB001" and cell_index is not None:
            message += _syntax_detail(cells[cell_index].code)
        out.append(
            Diagnostic(
                code=str(diag.code or ""),
                name=str(diag.name or ""),
                message=message,
                severity=severity,
                line=line,
                column=column,
                cell_index=cell_index,
                cell_id=str(cell_ids[i]) if i < len(cell_ids) else None,
                fix=str(diag.fix) if diag.fix else None,
            )
        )
    return out


def _cell_at(line: int | None, linenos: list[int]) -> int | None:
    if line is None or not linenos:
        return None
    # marimo records a cell at its `def` line; a diagnostic may point at the `@app.cell`
    # decorator just above it, hence the +1.
    index = bisect.bisect_right(linenos, line + 1) - 1
    return index if index >= 0 else None


def _syntax_detail(code: str) -> str:
    """marimo says only 'unparsable code'; a model repairing the cell needs Python's reason."""
    try:
        ast.parse(textwrap.dedent(code))
    except SyntaxError as exc:
        return f" (SyntaxError: {exc.msg}, line {exc.lineno} of the cell)"
    return ""


def _not_a_notebook(text: str, status: Any) -> Diagnostic:
    try:
        compile(text, "notebook.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return _file_diagnostic("syntax-error", f"SyntaxError: {exc.msg}", line=exc.lineno)
    except ValueError as exc:  # e.g. NUL bytes
        return _file_diagnostic("syntax-error", str(exc), line=None)
    details = " ".join(str(d) for d in status.details)
    reason = "no `app = marimo.App()` with `@app.cell` functions was found"
    if "MarimoFileError" in details:
        reason = details.split("MarimoFileError:", 1)[1].strip() or reason
    return _file_diagnostic("not-a-notebook", f"Not a marimo notebook: {reason}", line=None)


def _file_diagnostic(code: str, message: str, line: int | None) -> Diagnostic:
    return Diagnostic(
        code=code, name=code, message=message, severity="breaking", line=line, column=None
    )
