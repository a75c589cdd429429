"""The typed errors of notebook generation, import and validation."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from hexa.generate.diagnostics import Diagnostic


class GenerateError(Exception):
    """Base of every error this package raises on purpose."""


class NotebookInvalidError(GenerateError):
    """marimo's checker found breaking issues; `diagnostics` holds all of its findings.

    `text` is the text the diagnostics refer to (after normalisation, when there was one), so
    line numbers can be shown against it.
    """

    def __init__(
        self, diagnostics: Sequence[Diagnostic], text: str | None = None, message: str = ""
    ) -> None:
        self.diagnostics = tuple(diagnostics)
        self.text = text
        breaking = [d for d in self.diagnostics if d.breaking] or list(self.diagnostics)
        summary = "; ".join(d.describe() for d in breaking[:5])
        super().__init__(message or f"Not a valid marimo notebook: {summary}")


class MermaidSyntaxError(GenerateError):
    """A Mermaid flowchart could not be read; `line_no` (1-based) and `line` point at the fault."""

    def __init__(self, reason: str, line_no: int, line: str) -> None:
        self.reason = reason
        self.line_no = line_no
        self.line = line
        super().__init__(f"Mermaid line {line_no}: {reason}: {line.strip()!r}")


class MermaidTooLargeError(GenerateError):
    """The flowchart is over a cap; `limit` names which (`bytes`, `nodes` or `edges`)."""

    def __init__(self, limit: str, value: int, cap: int) -> None:
        self.limit, self.value, self.cap = limit, value, cap
        super().__init__(
            f"The flowchart has {value} {limit}; at most {cap} are accepted "
            f"(a notebook of that many cells would be no use to anyone)"
        )


class MermaidCycleError(GenerateError):
    """The flowchart has a cycle, which a marimo notebook (a DAG of cells) cannot express.

    `nodes` are the node ids on one cycle, in edge order (the first is not repeated).
    """

    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = tuple(nodes)
        path = " -> ".join([*self.nodes, self.nodes[0]]) if self.nodes else ""
        super().__init__(
            f"The flowchart has a cycle ({path}); marimo notebooks cannot have cycles, "
            "so break it by removing one of these edges"
        )


class UnsupportedNotebookFormatError(GenerateError):
    """The input is not something Hexa can turn into a notebook (or needs a missing tool)."""


class UnknownTemplateError(GenerateError, LookupError):
    """No template has this id."""


class WriterError(GenerateError):
    """The model behind a writer failed or timed out (not: it wrote bad code)."""
