"""`NotebookClient`: what the rest of Hexa calls on a marimo client.

`MarimoClient` is the real one; tests pass fakes (no marimo behind them). Code outside
`hexa.marimo` that only uses a client, rather than build one, should take this Protocol:
it names every method Hexa relies on (agent tools and undo, the notebook service, the
runtime's readiness check), with the real client's signatures.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from typing import Protocol

from hexa.marimo.models import (
    ApplyResult,
    BeforeHook,
    CellMap,
    CellOutputs,
    CellRuntimeData,
    CellSnapshot,
    Chart,
    DependencyGraph,
    LintReport,
    NotebookErrors,
    Notification,
    Op,
    SessionInfo,
    TablesAndVariables,
)

__all__ = ["NotebookClient"]


class NotebookClient(Protocol):
    """One notebook's marimo server, as Hexa uses it."""

    # -- server and session (runtime)

    async def health(self, timeout: float = 2.0) -> bool:
        """Whether the server answers its health check."""
        ...

    async def open_session(
        self,
        timeout: float = 30.0,
        *,
        run_timeout: float | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> SessionInfo:
        """Create (or join) the notebook's session, run its cells, and let go of it;
        `on_ready` is awaited once its kernel is ready, before the run."""
        ...

    async def close_session(self) -> bool:
        """Close the session (its kernel stops; the server stays up), or without one every
        session of the notebook's file; False when there was none."""
        ...

    def events(
        self, *, kiosk: bool = True, open_timeout: float = 10.0
    ) -> AsyncGenerator[Notification, None]:
        """marimo's notifications, as they come (close it with `contextlib.aclosing`)."""
        ...

    # -- reads

    async def cell_map(self, preview_lines: int = 3) -> CellMap: ...

    async def cell_runtime_data(self, cell_ids: Sequence[str]) -> list[CellRuntimeData]: ...

    async def cell_outputs(self, cell_ids: Sequence[str] = ()) -> list[CellOutputs]: ...

    async def notebook_errors(self) -> NotebookErrors: ...

    async def tables_and_variables(self, names: Sequence[str] = ()) -> TablesAndVariables: ...

    async def lint(self) -> LintReport: ...

    async def dependency_graph(
        self, cell_id: str | None = None, depth: int | None = None
    ) -> DependencyGraph: ...

    async def marimo_rules(self) -> str: ...

    async def read_cells(
        self, *, max_output_chars: int = 2000, timeout: float | None = None
    ) -> list[CellSnapshot]:
        """Every cell with its code, status, errors and clipped outputs."""
        ...

    async def describe_charts(
        self, names: Sequence[str], *, timeout: float | None = None
    ) -> dict[str, Chart]:
        """What the charts held by variables `names` show (code mode: it waits for the
        kernel, so call it only when no cell runs)."""
        ...

    # -- kernel

    async def interrupt(self) -> None: ...

    async def format(self, codes: Mapping[str, str], line_length: int = 79) -> dict[str, str]: ...

    # -- edits

    async def apply(
        self,
        ops: Sequence[Op],
        *,
        timeout: float | None = None,
        with_cells: bool = False,
        on_before: BeforeHook | None = None,
    ) -> ApplyResult:
        """Apply a batch of operations atomically: all of them, or on a validation error
        none; `with_cells` also returns the cells as the batch left them, and `on_before`
        is called with them as the batch found them, before it changes anything."""
        ...

    async def delete_cells(
        self, cell_ids: Sequence[str], *, timeout: float | None = None
    ) -> None: ...

    async def replace_cells(
        self,
        cells: Sequence[tuple[str, str | None]],
        *,
        run: bool = True,
        timeout: float | None = None,
        on_before: BeforeHook | None = None,
    ) -> list[str]:
        """Replace the whole notebook with `cells` (code, name); the new cells' ids.
        `on_before` as for `apply`."""
        ...
