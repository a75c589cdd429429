"""Every error Hexa reports on purpose, with the HTTP status a client should see.

One hierarchy for the whole service: the API maps `HexaError` to its `status` and `body()`,
the agent's tools show its message to the model, the CLI prints it. marimo's own failures
(`hexa.marimo.errors`) become Hexa's in one place, `from_marimo`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from hexa.diagnostics import Diagnostic
from hexa.marimo.errors import (
    CellNotFoundError,
    CodeModeError,
    MarimoError,
    MarimoNotRunningError,
    MarimoTimeoutError,
)


class HexaError(Exception):
    """Base of every error Hexa reports to a client."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def body(self) -> dict[str, object]:
        """The JSON a client gets (`detail` always; subclasses add their fields)."""
        return {"detail": self.message}


class BadRequestError(HexaError):
    status = 400


class BadPathError(BadRequestError):
    """A notebook path that is absolute, escapes the folder, or names no `.py` file."""


class ForbiddenError(HexaError):
    status = 403


class NotFoundError(HexaError):
    status = 404


class ConflictError(HexaError):
    """The change would clash with what exists (a taken name, id or path, a stale edit)."""

    status = 409


class TooLargeError(HexaError):
    status = 413


class UnsupportedError(HexaError):
    """An input in a format Hexa cannot turn into a notebook (or that needs a missing tool)."""

    status = 415


class LimitError(HexaError):
    """A cap was reached; `limit` names the setting (409 for a count, 429 for a rate)."""

    def __init__(self, message: str, limit: str, status: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.status = status

    def body(self) -> dict[str, object]:
        return {**super().body(), "limit": self.limit}


class UnavailableError(HexaError):
    """The notebook's marimo is starting, failed or gone."""

    status = 503


class UpstreamError(HexaError):
    """marimo, or a model, answered in a way Hexa could not use."""

    status = 502


class WriterError(UpstreamError):
    """The model behind a notebook writer failed or timed out (not: it wrote bad code)."""


class InvalidNotebookError(HexaError):
    """Notebook text marimo's checker refuses; `diagnostics` say where and why.

    `text` is the text the diagnostics refer to (after normalisation, when there was one),
    so line numbers can be shown against it.
    """

    status = 422

    def __init__(
        self, diagnostics: Sequence[Diagnostic], *, message: str = "", text: str | None = None
    ) -> None:
        self.diagnostics = tuple(diagnostics)
        self.text = text
        if not message:
            breaking = [d for d in self.diagnostics if d.breaking] or list(self.diagnostics)
            summary = "; ".join(d.describe() for d in breaking[:5])
            message = f"Not a valid marimo notebook: {summary}"
        super().__init__(message)

    def body(self) -> dict[str, object]:
        return {**super().body(), "diagnostics": [d.to_dict() for d in self.diagnostics]}


class MermaidSyntaxError(InvalidNotebookError):
    """A Mermaid flowchart could not be read; `line_no` (1-based) and `line` point at the fault."""

    def __init__(self, reason: str, line_no: int, line: str) -> None:
        self.reason = reason
        self.line_no = line_no
        self.line = line
        finding = Diagnostic(
            "mermaid-syntax", "mermaid-syntax", reason, "breaking", line=line_no, text=line
        )
        super().__init__([finding], message=f"Mermaid line {line_no}: {reason}: {line.strip()!r}")


class MermaidCycleError(InvalidNotebookError):
    """The flowchart has a cycle, which a marimo notebook (a DAG of cells) cannot express.

    `nodes` are the node ids on one cycle, in edge order (the first is not repeated).
    """

    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = tuple(nodes)
        path = " -> ".join([*self.nodes, self.nodes[0]]) if self.nodes else ""
        message = (
            f"The flowchart has a cycle ({path}); marimo notebooks cannot have cycles, "
            "so break it by removing one of these edges"
        )
        finding = Diagnostic("mermaid-cycle", "mermaid-cycle", message, "breaking")
        super().__init__([finding], message=message)


class MermaidTooLargeError(TooLargeError):
    """The flowchart is over a cap; `limit` names which (`bytes`, `nodes` or `edges`)."""

    def __init__(self, limit: str, value: int, cap: int) -> None:
        self.limit, self.value, self.cap = limit, value, cap
        super().__init__(
            f"The flowchart has {value} {limit}; at most {cap} are accepted "
            f"(a notebook of that many cells would be no use to anyone)"
        )


def from_marimo(exc: MarimoError | TimeoutError, notebook_id: str) -> HexaError:
    """marimo's failure as the Hexa error a client (or the model) should see."""
    if isinstance(exc, CellNotFoundError):
        return NotFoundError(f"cell {exc.cell_id} not found in notebook {notebook_id}")
    if isinstance(exc, MarimoNotRunningError):
        return UnavailableError(f"notebook {notebook_id} is not running: {exc}")
    if isinstance(exc, MarimoTimeoutError | TimeoutError):
        return UpstreamError(f"notebook {notebook_id} did not answer in time: {exc}".rstrip(": "))
    return UpstreamError(f"marimo failed for notebook {notebook_id}: {exc}")


@contextlib.contextmanager
def marimo_errors(notebook_id: str) -> Iterator[None]:
    """Raise marimo's failures as Hexa's; a failed code-mode batch stays itself (its caller
    reads which cells it applied)."""
    try:
        yield
    except CodeModeError:
        raise
    except MarimoError as exc:
        raise from_marimo(exc, notebook_id) from exc
