"""Values the marimo client returns.

Two kinds: frozen dataclasses for what Hexa builds itself (sessions, code-mode results,
cell snapshots, batch operations), and TypedDicts that name the JSON shapes marimo's
`invoke_tool` tools return (research §3), kept as marimo sends them so nothing is lost
in translation; only the keys Hexa relies on are listed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypedDict

# ---------------------------------------------------------------------------
# Server and session


@dataclass(frozen=True)
class ServerStatus:
    """`GET /api/status`."""

    status: str
    mode: str
    version: str
    sessions: int
    filenames: tuple[str, ...]


@dataclass(frozen=True)
class SessionRef:
    """One entry of `GET /api/sessions`: the current ws id and the stable id."""

    ws_session_id: str
    stable_session_id: str
    path: str | None


@dataclass(frozen=True)
class SessionInfo:
    """The session Hexa opened (from `kernel-ready`)."""

    ws_session_id: str  # the id Hexa's own ws used; changes when a browser resumes
    stable_session_id: str  # `sess-…`, survives browser reloads
    cell_ids: tuple[str, ...]
    codes: tuple[str, ...]
    names: tuple[str, ...]
    resumed: bool  # the session already existed (Hexa did not start the kernel)
    kiosk: bool  # someone else is the editor; Hexa connected as a viewer and ran nothing
    run_completed: bool  # the first run finished within open_session's run_timeout


KernelState: TypeAlias = Literal["idle", "running", "stopped"]


class Notification(TypedDict):
    """One WebSocket frame: `{"op": name, "data": {...}}` (`data` repeats `op`)."""

    op: str
    data: dict[str, Any]


# ---------------------------------------------------------------------------
# Code mode


@dataclass(frozen=True)
class Output:
    mimetype: str
    data: str


@dataclass(frozen=True)
class ExecuteResult:
    """The reply of `POST /api/kernel/execute`: streamed console plus the `done` event."""

    success: bool
    output: Output | None
    stdout: str
    stderr: str


@dataclass(frozen=True)
class CellOutput:
    mimetype: str
    data: str
    truncated: bool


@dataclass(frozen=True)
class ConsoleOutput:
    channel: str  # "stdout" | "stderr"
    data: str
    truncated: bool


@dataclass(frozen=True)
class CellSnapshot:
    """A cell as code mode's `ctx.cells` sees it: the document the browser shows."""

    cell_id: str
    name: str | None  # None for unnamed cells (marimo's `_`)
    code: str
    status: str | None  # idle, exception, stale, queued, running, ... or None (empty)
    errors: tuple[str, ...]
    output: CellOutput | None
    console: tuple[ConsoleOutput, ...]
    hide_code: bool
    disabled: bool


@dataclass(frozen=True)
class CellState:
    """A cell as the notebook's document holds it: id, name (None when unnamed) and code."""

    cell_id: str
    name: str | None
    code: str


# Called with the cells as a batch found them, before it changed any (`apply`'s
# `on_before`): from the stream, as soon as the kernel starts the batch.
BeforeHook: TypeAlias = Callable[[Sequence[CellState]], None]


@dataclass(frozen=True)
class PutOutcome:
    """Where one cell of a `PutCells` landed: its id, and its code before the batch (None
    when the batch created it)."""

    cell_id: str
    before: str | None


@dataclass(frozen=True)
class ApplyResult:
    """An applied batch: ids of the cells it created, in op order, and marimo's summary;
    `put` holds what a `PutCells` op did, cell by cell, and `cells` the document as the
    batch left it (when asked for)."""

    created: tuple[str, ...]
    summary: tuple[str, ...]
    stdout: str
    stderr: str
    put: tuple[PutOutcome, ...] = ()
    cells: tuple[CellState, ...] | None = None


# Batch operations for `MarimoClient.apply`. A target is a cell id or name, or `NewCell(i)`
# for the cell created by the i-th CreateCell of the same batch (0-based, counting only
# CreateCell ops).


@dataclass(frozen=True)
class NewCell:
    index: int


Target: TypeAlias = "str | NewCell"


@dataclass(frozen=True)
class CreateCell:
    code: str
    after: Target | None = None
    before: Target | None = None
    name: str | None = None
    run: bool = True
    hide_code: bool = False


@dataclass(frozen=True)
class EditCell:
    target: Target
    code: str | None = None
    name: str | None = None
    run: bool = True
    # Optimistic check: fail with CellConflictError unless the cell still has this code.
    expected_code: str | None = None


@dataclass(frozen=True)
class MoveCell:
    target: Target
    after: Target | None = None
    before: Target | None = None


@dataclass(frozen=True)
class DeleteCell:
    target: Target


@dataclass(frozen=True)
class RunCell:
    target: Target


@dataclass(frozen=True)
class RunStale:
    """Run every cell whose status is `stale` (edited or never run)."""


@dataclass(frozen=True)
class PutCells:
    """Create or update cells by key, and run them: each key names a cell by id, else by
    name; a cell no key names is created (named after its key when that is a usable
    name), after the one before it in `cells`, or at the end for the first. Unchanged
    code is only run. Decided in the kernel, against the document as the batch runs: no
    read beforehand, and concurrent batches with one new key make the cell once."""

    cells: tuple[tuple[str, str], ...]  # (key, code)


Op: TypeAlias = "CreateCell | EditCell | MoveCell | DeleteCell | RunCell | RunStale | PutCells"


# ---------------------------------------------------------------------------
# invoke_tool results (marimo's JSON, research §3)


class LightweightCell(TypedDict):
    cell_id: str
    preview: str
    line_count: int
    cell_type: str  # "code" | "markdown" | "sql"
    runtime_state: str | None
    has_output: bool
    has_console_output: bool
    has_errors: bool


class CellMap(TypedDict):
    notebook_name: str
    cells: list[LightweightCell]
    total_cells: int
    preview_lines: int


class ErrorDetail(TypedDict):
    type: str
    message: str
    traceback: list[str]


class RuntimeMetadata(TypedDict):
    runtime_state: str | None
    execution_time: float | None


class VariableValue(TypedDict, total=False):
    name: str
    value: str | None
    datatype: str | None


class CellRuntimeData(TypedDict):
    cell_id: str
    code: str | None
    errors: list[ErrorDetail] | None
    metadata: RuntimeMetadata | None
    variables: dict[str, VariableValue] | None


class VisualOutput(TypedDict):
    visual_output: str | None
    visual_mimetype: str | None


class ConsoleStreams(TypedDict):
    stdout: list[str]
    stderr: list[str]


class CellOutputs(TypedDict):
    cell_id: str
    visual_output: VisualOutput
    console_outputs: ConsoleStreams


class CellErrors(TypedDict):
    cell_id: str
    errors: list[ErrorDetail]
    stderr: list[str]


class NotebookErrors(TypedDict):
    has_errors: bool
    total_errors: int
    total_cells_with_errors: int
    cells: list[CellErrors]


class TableColumn(TypedDict, total=False):
    name: str
    type: str
    external_type: str
    sample_values: list[Any]


class TableInfo(TypedDict, total=False):
    source: str
    num_rows: int | None
    num_columns: int | None
    columns: list[TableColumn]
    engine: str | None
    primary_keys: list[str] | None
    indexes: list[str] | None


class TablesAndVariables(TypedDict):
    tables: dict[str, TableInfo]
    variables: dict[str, VariableValue]


class ChartSeries(TypedDict):
    kind: str  # line, bar, scatter, pie, image; altair's mark; plotly's trace type
    label: str
    points: int | None


class ChartAxes(TypedDict):
    title: str
    xlabel: str
    ylabel: str
    series: list[ChartSeries]
    xticks: list[str]


class Chart(TypedDict):
    """What a chart object in the kernel shows (`describe_charts`)."""

    library: str
    title: str
    axes: list[ChartAxes]


class DatabaseTable(TypedDict, total=False):
    connection: str
    database: str
    schema: str
    table: dict[str, Any]
    sample_query: str


class LintSummary(TypedDict):
    total_issues: int
    breaking_issues: int
    runtime_issues: int
    formatting_issues: int


class Diagnostic(TypedDict, total=False):
    message: str
    line: int
    column: int
    cell_id: str | None
    code: str
    name: str
    severity: str
    fixable: bool | str
    fix: str | None
    filename: str | None


class LintReport(TypedDict):
    summary: LintSummary
    diagnostics: list[Diagnostic]


class VariableInfo(TypedDict, total=False):
    name: str
    kind: str
    datatype: str | None


class CellDependencies(TypedDict):
    cell_id: str
    cell_name: str
    defs: list[VariableInfo]
    refs: list[str]
    parent_cell_ids: list[str]
    child_cell_ids: list[str]


class CycleInfo(TypedDict):
    cell_ids: list[str]
    edges: list[list[str]]


class DependencyGraph(TypedDict):
    cells: list[CellDependencies]
    variable_owners: dict[str, list[str]]
    multiply_defined: list[str]
    cycles: list[CycleInfo]


class ActiveNotebook(TypedDict):
    name: str
    path: str
    session_id: str


class ActiveNotebooks(TypedDict):
    total_notebooks: int
    active_connections: int
    notebooks: list[ActiveNotebook]
