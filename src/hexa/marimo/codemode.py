"""Code mode: Python run in the kernel's scratchpad (`POST /api/kernel/execute`, an SSE
reply), and the notebook edits and reads Hexa builds on it (research §4D).

Every edit is one program from `hexa.marimo.program` that applies a batch through marimo's
code-mode API, the one path that updates kernel, browser and `.py` file together, and
prints a marked JSON result line that is parsed here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from hexa.marimo import program
from hexa.marimo.errors import (
    CellConflictError,
    CellNotFoundError,
    CodeModeError,
    MarimoError,
    MarimoNotRunningError,
    MarimoTimeoutError,
    error_from_response,
)
from hexa.marimo.models import (
    ApplyResult,
    BeforeHook,
    CellOutput,
    CellSnapshot,
    CellState,
    Chart,
    ConsoleOutput,
    CreateCell,
    DeleteCell,
    EditCell,
    ExecuteResult,
    MoveCell,
    Op,
    Output,
    PutOutcome,
    RunCell,
    RunStale,
    Target,
)
from hexa.marimo.saves import Applied, BatchWatch
from hexa.marimo.sse import SSEParser
from hexa.marimo.transport import (
    BROKEN,
    STABLE_HEADER,
    STALLED,
    Connection,
    OnConnection,
    decode,
)
from hexa.marimo.wire import Reply

__all__ = ["CodeMode"]

logger = logging.getLogger(__name__)

# Lines code mode prints after applying a batch ("created and ran cell 'Ab12' (name)").
_SUMMARY_LINE = re.compile(
    r"^(created|created and ran|edited|deleted|moved|re-ran|installed|uninstalled|updated) "
)


class CodeMode(OnConnection):
    """Code-mode execution, and the notebook edits and reads built on it."""

    def __init__(
        self,
        conn: Connection,
        *,
        execute_timeout: float = 120.0,
        watch: Callable[[], BatchWatch] | None = None,
    ) -> None:
        super().__init__(conn)
        self._execute_timeout = execute_timeout
        # Watches each edit batch from its start: told what it changed the moment marimo
        # applied it (before marimo tells the editors). See hexa.marimo.saves.
        self._watch = watch
        # marimo runs one scratchpad at a time and starts watching for a hang-up before
        # it queues a call: a queued call that times out would interrupt the running one.
        # Hexa's own calls therefore wait here (inside their deadline) instead.
        self._execute_lock = asyncio.Lock()

    async def execute(
        self,
        code: str,
        timeout: float | None = None,
        *,
        on_stdout: Callable[[str], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> ExecuteResult:
        """Run `code` in the kernel's scratchpad (`POST /api/kernel/execute`, SSE reply).

        On timeout the stream is closed and MarimoTimeoutError is raised. marimo answers a
        hang-up by interrupting the kernel, whatever it runs at that moment (a cell the
        person started included). Calls through one client are serialized, so use one
        MarimoClient per notebook. `on_stdout` sees the program's output as it streams;
        `on_start` is called when the call is about to be sent (its turn has come).
        """
        stable = self._conn.require_stable()
        limit = self._execute_timeout if timeout is None else timeout
        stream = _ExecuteStream(on_stdout)

        async def call() -> None:
            response = await self._conn.send(
                "POST",
                "/api/kernel/execute",
                body={"code": code},
                headers={STABLE_HEADER: stable},
                # asyncio.timeout is the deadline; a cell may print nothing for long.
                timeout=limit + 5.0,
                stream=True,
            )
            try:
                await stream.read(response)
            finally:
                await response.aclose()

        try:
            async with asyncio.timeout(limit), self._execute_lock:
                self._conn.require_alive()
                if on_start is not None:
                    on_start()
                await self._conn.unless_gone(call())
        except TimeoutError as exc:
            raise MarimoTimeoutError(
                f"code mode ran past {limit:g}s; the kernel was interrupted"
            ) from exc
        except STALLED as exc:
            raise MarimoTimeoutError(f"code mode stalled past {limit:g}s") from exc
        except BROKEN as exc:
            raise MarimoNotRunningError(f"marimo went away during execute: {exc}") from exc
        return stream.result()

    async def _run_edit(
        self,
        code: str,
        marker: str,
        timeout: float | None,
        on_before: BeforeHook | None = None,
        *,
        watched: bool = False,
    ) -> ApplyResult:
        batch: BatchWatch | None = None

        def start() -> None:
            nonlocal batch
            if watched and self._watch is not None:
                batch = self._watch()

        def applied(changes: Applied | None) -> None:
            if batch is not None:
                if changes is None:
                    batch.close()  # nothing to apply: no save need wait for it
                else:
                    batch.applied(changes)

        watch = _ReportWatch(marker, on_before, applied if watched else None)
        try:
            result = await self.execute(
                code, timeout, on_stdout=watch.feed if watch.wanted else None, on_start=start
            )
        finally:
            if batch is not None:
                batch.close()
        payload = program.find_result(result.stdout, marker)
        stdout = program.strip_results(result.stdout, marker)
        if payload is None:
            raise CodeModeError(
                "code mode printed no result: " + _last_line(result.stderr),
                applied=False,
                stdout=stdout,
                stderr=result.stderr,
            )
        if not payload.get("ok"):
            kind = payload.get("error")
            if kind == "not_found":
                raise CellNotFoundError(str(payload.get("target")))
            if kind == "conflict":
                raise CellConflictError(str(payload.get("target")), str(payload.get("code")))
            raise CodeModeError(
                str(payload.get("message") or kind),
                applied=False,
                stdout=stdout,
                stderr=result.stderr,
                error_type=payload.get("type"),
            )
        created = tuple(str(c) for c in payload.get("created") or ())
        put = _put_outcomes(payload.get("put"))
        if not result.success:
            # The batch was applied and saved; a cell it ran raised.
            raise CodeModeError(
                "a cell raised: " + _last_line(result.stderr),
                applied=True,
                stdout=stdout,
                stderr=result.stderr,
                cell_ids=created,
                put=put,
            )
        summary = tuple(line for line in stdout.splitlines() if _SUMMARY_LINE.match(line))
        return ApplyResult(
            created=created,
            summary=summary,
            stdout=stdout,
            stderr=result.stderr,
            put=put,
            cells=_cells_left(payload.get("cells")),
        )

    async def apply(
        self,
        ops: Sequence[Op],
        *,
        timeout: float | None = None,
        with_cells: bool = False,
        on_before: BeforeHook | None = None,
    ) -> ApplyResult:
        """Apply several operations atomically (one code-mode batch): either all are
        applied (and saved to the file) or, on a validation error, none. `with_cells`:
        the result also holds the cells as the batch left them (no read afterwards).
        `on_before` is called with the cells as the batch found them, as soon as the
        kernel starts it (a long run still going does not delay it)."""
        if not ops:
            return ApplyResult(created=(), summary=(), stdout="", stderr="")
        marker = program.new_marker()
        # Runs alone change no cell: nothing for an editor's save to take back.
        watched = self._watch is not None and any(
            not isinstance(op, (RunCell, RunStale)) for op in ops
        )
        code = program.edit_program(
            ops, marker, cells=with_cells, before=on_before is not None, applied=watched
        )
        return await self._run_edit(code, marker, timeout, on_before, watched=watched)

    async def create_cell(
        self,
        code: str,
        *,
        after: Target | None = None,
        before: Target | None = None,
        name: str | None = None,
        run: bool = True,
        timeout: float | None = None,
    ) -> str:
        """Add a cell (at the end unless placed); its new id."""
        op = CreateCell(code, after=after, before=before, name=name, run=run)
        return (await self.apply([op], timeout=timeout)).created[0]

    async def edit_cell(
        self,
        cell_id: str,
        code: str,
        *,
        run: bool = True,
        expected_code: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Replace a cell's code. With `expected_code`, refuse (CellConflictError) when
        the cell no longer has that code, e.g. the person edited it meanwhile."""
        op = EditCell(cell_id, code=code, run=run, expected_code=expected_code)
        await self.apply([op], timeout=timeout)

    async def move_cell(
        self,
        cell_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> None:
        await self.apply([MoveCell(cell_id, after=after, before=before)], timeout=timeout)

    async def delete_cells(self, cell_ids: Sequence[str], *, timeout: float | None = None) -> None:
        await self.apply([DeleteCell(c) for c in cell_ids], timeout=timeout)

    async def run_cells(self, cell_ids: Sequence[str], *, timeout: float | None = None) -> None:
        await self.apply([RunCell(c) for c in cell_ids], timeout=timeout)

    async def run_stale(self, *, timeout: float | None = None) -> None:
        """Run every stale cell (edited since its last run, or never run)."""
        await self.apply([RunStale()], timeout=timeout)

    async def replace_cells(
        self,
        cells: Sequence[tuple[str, str | None]],
        *,
        run: bool = True,
        timeout: float | None = None,
        on_before: BeforeHook | None = None,
    ) -> list[str]:
        """Replace the whole notebook with `cells` (code, name) in one batch (undo,
        replace-notebook); the new cells' ids in order. `on_before` as for `apply`."""
        marker = program.new_marker()
        watched = self._watch is not None
        code = program.replace_program(
            cells, run=run, marker=marker, before=on_before is not None, applied=watched
        )
        result = await self._run_edit(code, marker, timeout, on_before, watched=watched)
        return list(result.created)

    async def read_cells(
        self, *, max_output_chars: int = 2000, timeout: float | None = None
    ) -> list[CellSnapshot]:
        """Every cell as the browser's document has it, with status, errors, and clipped
        outputs. Outputs come from the last completed run: cells run by an edit show their
        new outputs here (a separate code-mode call), never within that edit's call."""
        marker = program.new_marker()
        code = program.read_program(marker, limit=max_output_chars)
        payload = await self._read(code, marker, "reading cells", timeout)
        return [_snapshot(cell) for cell in payload.get("cells") or ()]

    async def describe_charts(
        self, names: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Chart]:
        """What the charts held by variables `names` show (kind, title, axes, series);
        names that hold no chart are left out."""
        if not names:
            return {}
        marker = program.new_marker()
        code = program.charts_program(names, marker)
        payload = await self._read(code, marker, "describing charts", timeout)
        return cast("dict[str, Chart]", payload.get("charts") or {})

    async def _read(
        self, code: str, marker: str, what: str, timeout: float | None
    ) -> dict[str, Any]:
        """Run a program that only reads, and return its result line."""
        result = await self.execute(code, timeout)
        payload = program.find_result(result.stdout, marker)
        if payload is None or not payload.get("ok"):
            raise CodeModeError(
                f"{what} failed: " + _last_line(result.stderr),
                applied=False,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return payload


class _ReportWatch:
    """Finds the lines a batch prints as it goes in its streamed stdout: the cells it
    found (handed to `on_before`) and the changes marimo applied (to `on_applied`), once
    each. Only a line that starts like one of them is kept while it streams in: the
    cells' own output (a progress bar without newlines) is passed over."""

    def __init__(
        self,
        marker: str,
        on_before: BeforeHook | None,
        on_applied: Callable[[Applied | None], None] | None,
    ) -> None:
        self._before = program.before_marker(marker) if on_before is not None else None
        self._applied = program.applied_marker(marker) if on_applied is not None else None
        self._on_before, self._on_applied = on_before, on_applied
        self._line: list[str] | None = []  # the line so far; None: not one of ours
        self._head = ""  # its first characters, enough to tell
        self._head_size = max(len(p) for p in (self._before or "", self._applied or ""))

    @property
    def wanted(self) -> bool:
        return self._before is not None or self._applied is not None

    def feed(self, text: str) -> None:
        pieces = text.split("\n")
        for i, piece in enumerate(pieces):
            if not self.wanted:
                return
            if self._line is not None:
                self._take(piece)
            if i < len(pieces) - 1:  # the line ends here
                if self._line is not None:
                    self._found("".join(self._line))
                self._line, self._head = [], ""

    def _take(self, piece: str) -> None:
        assert self._line is not None
        if len(self._head) < self._head_size:
            self._head += piece[: self._head_size - len(self._head)]
            prefixes = [p for p in (self._before, self._applied) if p is not None]
            if not any(p.startswith(self._head) or self._head.startswith(p) for p in prefixes):
                self._line = None
                return
        self._line.append(piece)

    def _found(self, line: str) -> None:
        # Never raised into the stream: hanging up would interrupt the kernel.
        try:
            if self._before is not None and line.startswith(self._before):
                prefix, self._before = self._before, None
                cells = _cells_left(json.loads(line[len(prefix) :]))
                if self._on_before is not None:
                    self._on_before(cells or ())
            elif self._applied is not None and line.startswith(self._applied):
                applied = Applied.from_report(json.loads(line[len(self._applied) :]))
                if applied is not None:  # a report of nothing may come before a real one
                    self._applied = None
                if self._on_applied is not None:
                    self._on_applied(applied)
        except (ValueError, MarimoError) as exc:
            logger.warning("a batch's report could not be read: %s", exc)
        except Exception:
            logger.exception("a batch's report could not be handed over")


class _ExecuteStream:
    """What an execute reply streams: stdout and stderr as they come, then `done`."""

    def __init__(self, on_stdout: Callable[[str], None] | None = None) -> None:
        self._on_stdout = on_stdout
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.done: dict[str, Any] | None = None

    async def read(self, response: Reply) -> None:
        if response.status_code != 200:
            await response.aread()
            error = error_from_response(response.status_code, decode(response))
            raise error or MarimoError(f"execute: HTTP {response.status_code}")
        parser = SSEParser()
        # Read to the end (not just to `done`): hanging up early would make marimo
        # interrupt the kernel.
        async for chunk in response.aiter_bytes():
            for event in parser.feed(chunk):
                self._take(event.event, event.data)
        for event in parser.close():
            self._take(event.event, event.data)

    def _take(self, kind: str, data: str) -> None:
        payload = json.loads(data)
        if kind == "stdout":
            text = str(payload.get("data", ""))
            self.stdout.append(text)
            if self._on_stdout is not None:
                self._on_stdout(text)
        elif kind == "stderr":
            self.stderr.append(str(payload.get("data", "")))
        elif kind == "done":
            self.done = payload

    def result(self) -> ExecuteResult:
        if self.done is None:
            raise MarimoNotRunningError("execute stream ended without a result")
        output = self.done.get("output") or None
        return ExecuteResult(
            success=bool(self.done.get("success")),
            output=Output(str(output.get("mimetype", "")), str(output.get("data", "")))
            if isinstance(output, dict)
            else None,
            stdout="".join(self.stdout),
            stderr="".join(self.stderr),
        )


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no detail"


def _snapshot(cell: Mapping[str, Any]) -> CellSnapshot:
    output = cell.get("output")
    name = cell.get("name") or None
    return CellSnapshot(
        cell_id=str(cell["id"]),
        # Cells loaded from the file are `def _(...)`: marimo reports the name "_".
        name=None if name == "_" else name,
        code=str(cell.get("code", "")),
        status=cell.get("status"),
        errors=tuple(str(e) for e in cell.get("errors") or ()),
        output=CellOutput(
            mimetype=str(output["mimetype"]),
            data=str(output["data"]),
            truncated=bool(output["truncated"]),
        )
        if output
        else None,
        console=tuple(
            ConsoleOutput(str(c["channel"]), str(c["data"]), bool(c["truncated"]))
            for c in cell.get("console") or ()
        ),
        hide_code=bool(cell.get("hide_code")),
        disabled=bool(cell.get("disabled")),
    )


def _put_outcomes(raw: Any) -> tuple[PutOutcome, ...]:
    """The interpreter's `put` list, checked: what each key of a `PutCells` became."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(p, dict)
        and isinstance(p.get("id"), str)
        and (p.get("before") is None or isinstance(p.get("before"), str))
        for p in raw
    ):
        raise MarimoError(f"code mode returned a malformed put list: {raw!r}")
    return tuple(PutOutcome(p["id"], p.get("before")) for p in raw)


def _cells_left(raw: Any) -> tuple[CellState, ...] | None:
    """The interpreter's `cells` ([id, name, code] each), checked; None when not asked."""
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(
        isinstance(c, list)
        and len(c) == 3
        and isinstance(c[0], str)
        and (c[1] is None or isinstance(c[1], str))
        and isinstance(c[2], str)
        for c in raw
    ):
        raise MarimoError(f"code mode returned malformed cells: {raw!r}")
    return tuple(CellState(c[0], c[1], c[2]) for c in raw)
