"""Fakes for the agent's unit tests (NOT marimo): an in-memory notebook with the
MarimoClient methods the agent uses, and a notebook service over such notebooks.

FakeMarimoClient keeps cells (id, name, code) and "runs" a cell by exec'ing its code in one
namespace, taking the last expression as its output, like marimo does; good enough to see
ids, outputs and errors flow through the agent. `saved` is what the .py file would hold.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import itertools
import json
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hexa.errors import NotFoundError
from hexa.marimo.errors import CellNotFoundError, CodeModeError, MarimoError
from hexa.marimo.models import (
    ApplyResult,
    BeforeHook,
    CellDependencies,
    CellErrors,
    CellMap,
    CellOutput,
    CellOutputs,
    CellRuntimeData,
    CellSnapshot,
    CellState,
    Chart,
    CreateCell,
    DeleteCell,
    DependencyGraph,
    EditCell,
    ErrorDetail,
    LightweightCell,
    LintReport,
    MoveCell,
    NewCell,
    NotebookErrors,
    Notification,
    Op,
    PutCells,
    PutOutcome,
    RunCell,
    RunStale,
    SessionInfo,
    TablesAndVariables,
    VariableValue,
    VisualOutput,
)
from hexa.users import Principal


@dataclass
class FakeCell:
    cell_id: str
    code: str
    name: str | None = None
    output: str | None = None
    error: str | None = None
    state: str | None = None
    image: bytes | None = None  # a PNG the cell shows, as marimo's figure bundle


class FakeMarimoClient:
    """In-memory stand-in for MarimoClient (a fake: no marimo involved). It has every
    method of `NotebookClient`, with the real client's signatures."""

    def __init__(self, cells: list[tuple[str, str]] | None = None) -> None:
        self.cells: list[FakeCell] = [FakeCell(cid, code) for cid, code in cells or []]
        self.ids = (f"n{i:03d}" for i in itertools.count(1))
        self.applied: list[list[Op]] = []  # every batch that was applied
        # A test holds an apply here until it sets `gate`; `applying` says one has begun.
        self.gate: asyncio.Event | None = None
        # A batch held here has not started at all: unlike at `gate`, it has not yet
        # reported the cells it found (`on_before`).
        self.queue: asyncio.Event | None = None
        self.started = asyncio.Event()  # a batch started (and reported what it found)
        self.applying = asyncio.Event()
        self.namespace: dict[str, Any] = {}
        self.rules_calls = 0
        self.fail_with: Exception | None = None
        # Cells in the document whose first notification has not reached marimo's
        # server yet: its tools fail on them (a moment after a cell is made).
        self.unsettled: set[str] = set()

    # --- helpers
    def find(self, cell_id: str) -> FakeCell:
        for cell in self.cells:
            if cell.cell_id == cell_id:
                return cell
        raise CellNotFoundError(cell_id)

    @property
    def saved(self) -> list[tuple[str, str]]:
        return [(c.cell_id, c.code) for c in self.cells]

    def _run(self, cell: FakeCell) -> None:
        cell.output, cell.error, cell.state = None, None, "idle"
        try:
            tree = ast.parse(cell.code)
            last = tree.body[-1] if tree.body else None
            if isinstance(last, ast.Expr):
                exec(compile(ast.Module(tree.body[:-1], []), "<cell>", "exec"), self.namespace)
                value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), self.namespace)
                cell.output = repr(value)
            else:
                exec(compile(tree, "<cell>", "exec"), self.namespace)
        except Exception as exc:
            cell.error = f"{type(exc).__name__}: {exc}"
            cell.state = "exception"

    @staticmethod
    def _errors(cell: FakeCell) -> list[ErrorDetail]:
        if not cell.error:
            return []
        return [ErrorDetail(type="exception", message=cell.error, traceback=[])]

    # --- server and session
    async def health(self, timeout: float = 2.0) -> bool:
        return True

    async def open_session(
        self,
        timeout: float = 30.0,
        *,
        run_timeout: float | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> SessionInfo:
        if on_ready is not None:
            await on_ready()
        return SessionInfo(
            ws_session_id="fake-ws",
            stable_session_id="fake-session",
            cell_ids=tuple(c.cell_id for c in self.cells),
            codes=tuple(c.code for c in self.cells),
            names=tuple(c.name or "_" for c in self.cells),
            resumed=True,
            kiosk=False,
            run_completed=True,
        )

    async def events(
        self, *, kiosk: bool = True, open_timeout: float = 10.0
    ) -> AsyncGenerator[Notification, None]:
        yield Notification(op="kernel-ready", data={"kiosk": kiosk})
        await asyncio.Event().wait()  # then nothing more happens, until the caller closes

    # --- reads
    async def cell_map(self, preview_lines: int = 3) -> CellMap:
        return CellMap(
            notebook_name="fake.py",
            cells=[
                LightweightCell(
                    cell_id=c.cell_id,
                    preview="\n".join(c.code.splitlines()[:preview_lines]),
                    line_count=len(c.code.splitlines()),
                    cell_type="code",
                    runtime_state=c.state,
                    has_output=c.output is not None,
                    has_console_output=False,
                    has_errors=c.error is not None,
                )
                for c in self.cells
            ],
            total_cells=len(self.cells),
            preview_lines=preview_lines,
        )

    async def cell_runtime_data(self, cell_ids: Sequence[str]) -> list[CellRuntimeData]:
        chosen = [self.find(c) for c in cell_ids] if cell_ids else list(self.cells)
        for c in chosen:
            if c.cell_id in self.unsettled:
                raise MarimoError(
                    f"Cell notification not found for cell {c.cell_id}",
                    code="CELL_NOTIFICATION_NOT_FOUND",
                )
        return [
            CellRuntimeData(
                cell_id=c.cell_id,
                code=c.code,
                errors=self._errors(c),
                metadata={"runtime_state": c.state, "execution_time": None},
                variables={},
            )
            for c in chosen
        ]

    async def cell_outputs(self, cell_ids: Sequence[str] = ()) -> list[CellOutputs]:
        chosen = [self.find(c) for c in cell_ids] if cell_ids else list(self.cells)
        out: list[CellOutputs] = []
        for c in chosen:
            visual: VisualOutput
            if c.error:
                visual = {
                    "visual_output": f'[{{"type":"exception","msg":"{c.error}"}}]',
                    "visual_mimetype": "application/vnd.marimo+error",
                }
            elif c.image is not None:
                url = "data:image/png;base64," + base64.b64encode(c.image).decode()
                visual = {
                    "visual_output": json.dumps({"image/png": url}),
                    "visual_mimetype": "application/vnd.marimo+mimebundle",
                }
            else:
                visual = {
                    "visual_output": f"<pre>{c.output}</pre>" if c.output else None,
                    "visual_mimetype": "text/html" if c.output else None,
                }
            out.append(
                CellOutputs(
                    cell_id=c.cell_id,
                    visual_output=visual,
                    console_outputs={"stdout": [], "stderr": []},
                )
            )
        return out

    async def notebook_errors(self) -> NotebookErrors:
        bad = [c for c in self.cells if c.error]
        return NotebookErrors(
            has_errors=bool(bad),
            total_errors=len(bad),
            total_cells_with_errors=len(bad),
            cells=[CellErrors(cell_id=c.cell_id, errors=self._errors(c), stderr=[]) for c in bad],
        )

    async def tables_and_variables(self, names: Sequence[str] = ()) -> TablesAndVariables:
        variables: dict[str, VariableValue] = {
            k: {"name": k, "value": repr(v), "datatype": type(v).__name__}
            for k, v in self.namespace.items()
            if not k.startswith("__") and (not names or k in names)
        }
        return TablesAndVariables(tables={}, variables=variables)

    async def lint(self) -> LintReport:
        return LintReport(
            summary={
                "total_issues": 0,
                "breaking_issues": 0,
                "runtime_issues": 0,
                "formatting_issues": 0,
            },
            diagnostics=[],
        )

    async def dependency_graph(
        self, cell_id: str | None = None, depth: int | None = None
    ) -> DependencyGraph:
        return DependencyGraph(
            cells=[
                CellDependencies(
                    cell_id=c.cell_id,
                    cell_name=c.name or "_",
                    defs=[],
                    refs=[],
                    parent_cell_ids=[],
                    child_cell_ids=[],
                )
                for c in self.cells
            ],
            variable_owners={},
            multiply_defined=[],
            cycles=[],
        )

    async def describe_charts(
        self, names: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Chart]:
        return {}  # the fake kernel holds no chart objects

    async def marimo_rules(self) -> str:
        self.rules_calls += 1
        return "# marimo rules (fake)\nDefine each name in one cell."

    async def read_cells(
        self, *, max_output_chars: int = 2000, timeout: float | None = None
    ) -> list[CellSnapshot]:
        return [
            CellSnapshot(
                cell_id=c.cell_id,
                name=c.name,
                code=c.code,
                status=c.state,
                errors=(c.error,) if c.error else (),
                output=CellOutput("text/plain", c.output[:max_output_chars], False)
                if c.output is not None
                else None,
                console=(),
                hide_code=False,
                disabled=False,
            )
            for c in self.cells
        ]

    async def read_code(self) -> str:
        return "\n\n".join(c.code for c in self.cells)

    async def interrupt(self) -> None:
        return None

    async def close_session(self) -> bool:
        return True

    async def format(self, codes: Mapping[str, str], line_length: int = 79) -> dict[str, str]:
        return {k: v.replace("x=1", "x = 1") for k, v in codes.items()}

    # --- writes
    def _target(self, ref: Any, created: list[str]) -> str:
        return created[ref.index] if isinstance(ref, NewCell) else ref

    async def apply(
        self,
        ops: Sequence[Op],
        *,
        timeout: float | None = None,
        with_cells: bool = False,
        on_before: BeforeHook | None = None,
    ) -> ApplyResult:
        if self.fail_with is not None:
            raise self.fail_with
        self.applying.set()
        if self.queue is not None:  # waits to start (behind another run): nothing reported
            await self.queue.wait()
        if on_before is not None:  # as the interpreter: first, even if the batch then fails
            on_before([CellState(c.cell_id, c.name, c.code) for c in self.cells])
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        snapshot = [FakeCell(**c.__dict__) for c in self.cells]
        created: list[str] = []
        put: list[PutOutcome] = []
        to_run: list[FakeCell] = []
        try:
            for op in ops:
                if isinstance(op, CreateCell):
                    cell = FakeCell(next(self.ids), op.code, op.name)
                    if op.after is not None:
                        at = self.cells.index(self.find(self._target(op.after, created))) + 1
                    elif op.before is not None:
                        at = self.cells.index(self.find(self._target(op.before, created)))
                    else:
                        at = len(self.cells)
                    self.cells.insert(at, cell)
                    created.append(cell.cell_id)
                    if op.run:
                        to_run.append(cell)
                elif isinstance(op, EditCell):
                    cell = self.find(self._target(op.target, created))
                    if op.code is not None:
                        cell.code = op.code
                    if op.name is not None:
                        cell.name = None if op.name == "_" else op.name
                    if op.run:
                        to_run.append(cell)
                elif isinstance(op, MoveCell):
                    cell = self.find(self._target(op.target, created))
                    self.cells.remove(cell)
                    anchor = self.find(self._target(op.after or op.before, created))
                    at = self.cells.index(anchor) + (1 if op.after is not None else 0)
                    self.cells.insert(at, cell)
                elif isinstance(op, DeleteCell):
                    self.cells.remove(self.find(self._target(op.target, created)))
                elif isinstance(op, RunCell):
                    to_run.append(self.find(self._target(op.target, created)))
                elif isinstance(op, RunStale):
                    to_run.extend(c for c in self.cells if c.state is None)
                elif isinstance(op, PutCells):
                    put.extend(self._put(op, to_run))
                for cell in self.cells:
                    compile(cell.code, "<cell>", "exec")  # a syntax error applies nothing
        except CellNotFoundError:
            self.cells = snapshot
            raise
        except SyntaxError as exc:
            self.cells = snapshot
            raise CodeModeError(f"SyntaxError: {exc}", applied=False) from exc
        self.applied.append(list(ops))
        for cell in to_run:
            self._run(cell)
        failed = [c for c in to_run if c.error]
        if failed:
            raise CodeModeError(
                "a cell raised: " + (failed[0].error or ""),
                applied=True,
                stderr=f"Traceback (most recent call last):\n  ...\n{failed[0].error}",
                cell_ids=tuple(created),
                put=tuple(put),
            )
        left = tuple(CellState(c.cell_id, c.name, c.code) for c in self.cells)
        return ApplyResult(
            created=tuple(created),
            summary=(),
            stdout="",
            stderr="",
            put=tuple(put),
            cells=left if with_cells else None,
        )

    def _put(self, op: PutCells, to_run: list[FakeCell]) -> list[PutOutcome]:
        """`PutCells` as the interpreter does it: by id, else by name, else created."""
        done: list[PutOutcome] = []
        previous: FakeCell | None = None
        for key, code in op.cells:
            cell = next((c for c in self.cells if c.cell_id == key), None) or next(
                (c for c in self.cells if c.name == key), None
            )
            before = None if cell is None else cell.code
            if cell is None:
                name = key if key.isidentifier() and not key.startswith("_") else None
                cell = FakeCell(next(self.ids), code, name)
                at = len(self.cells) if previous is None else self.cells.index(previous) + 1
                self.cells.insert(at, cell)
            cell.code = code
            to_run.append(cell)
            done.append(PutOutcome(cell.cell_id, before))
            previous = cell
        return done

    async def delete_cells(self, cell_ids: Sequence[str], *, timeout: float | None = None) -> None:
        await self.apply([DeleteCell(c) for c in cell_ids], timeout=timeout)

    async def replace_cells(
        self,
        cells: Sequence[tuple[str, str | None]],
        *,
        run: bool = True,
        timeout: float | None = None,
        on_before: BeforeHook | None = None,
    ) -> list[str]:
        if on_before is not None:
            on_before([CellState(c.cell_id, c.name, c.code) for c in self.cells])
        self.cells = []
        result = await self.apply([CreateCell(code, name=name, run=run) for code, name in cells])
        return list(result.created)


@dataclass
class FakeView:
    notebook_id: str
    status: str = "running"
    name: str = "Sales report"


@dataclass
class FakeRunning:
    client: FakeMarimoClient


@dataclass
class FakeNotebooks:
    """The notebook service as the agent sees it (a fake): owner -> notebooks."""

    clients: dict[str, FakeMarimoClient] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)
    restarts: list[str] = field(default_factory=list)
    # A test sets this to learn that someone has looked a notebook up (`get`).
    looked_up: asyncio.Event | None = None

    def add(self, owner: Principal, notebook_id: str, client: FakeMarimoClient) -> FakeMarimoClient:
        self.clients[notebook_id] = client
        self.owners[notebook_id] = owner.id
        return client

    def _check(self, user: Principal, notebook_id: str) -> None:
        if self.owners.get(notebook_id) != user.id:
            raise NotFoundError(f"no notebook {notebook_id}")

    async def get(self, user: Principal, notebook_id: str) -> FakeView:
        if self.looked_up is not None:
            self.looked_up.set()
        self._check(user, notebook_id)
        return FakeView(notebook_id)

    async def running(self, user: Principal, notebook_id: str) -> FakeRunning:
        self._check(user, notebook_id)
        return FakeRunning(self.clients[notebook_id])

    async def restart(self, user: Principal, notebook_id: str) -> FakeRunning:
        self._check(user, notebook_id)
        self.restarts.append(notebook_id)
        self.clients[notebook_id].namespace.clear()
        return FakeRunning(self.clients[notebook_id])
