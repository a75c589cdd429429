"""Reads through marimo's `invoke_tool` endpoint: the cell map, runtime data, outputs,
errors, variables, lint, the dependency graph and marimo's own rules (research §3).

`invoke_tool` always answers HTTP 200; a failure is `success: false` with an error string,
which `error_from_tool` turns into a MarimoError. Every tool call carries the session's
*current* ws id, re-resolved once when it went stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

from hexa.marimo.errors import MarimoError, MarimoSessionError, error_from_tool
from hexa.marimo.models import (
    ActiveNotebooks,
    CellMap,
    CellOutputs,
    CellRuntimeData,
    DatabaseTable,
    DependencyGraph,
    LintReport,
    NotebookErrors,
    TablesAndVariables,
)
from hexa.marimo.transport import SESSION_HEADER, OnConnection

__all__ = ["ToolReads"]


class ToolReads(OnConnection):
    """Typed reads of the notebook through marimo's AI tools."""

    async def _tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        cell_ids: Sequence[str] = (),
        session_arg: bool = True,
    ) -> dict[str, Any]:
        for attempt in range(2):
            ws_id = await self._conn.ws_session_id(refresh=attempt > 0)
            # The header is always required; tools without arguments reject `session_id`.
            args = {"session_id": ws_id, **arguments} if session_arg else dict(arguments)
            body = {"toolName": name, "arguments": args}
            try:
                reply = await self._conn.call(
                    "POST", "/api/ai/invoke_tool", body=body, headers={SESSION_HEADER: ws_id}
                )
                if not isinstance(reply, dict):
                    raise MarimoError(f"unexpected invoke_tool reply: {reply!r}")
                # Always HTTP 200; failure is `success: false` with a string error.
                if not reply.get("success"):
                    raise error_from_tool(reply.get("error"), tuple(cell_ids))
                result = reply.get("result")
                if not isinstance(result, dict):
                    raise MarimoError(f"tool {name} returned {result!r}")
                return result
            except MarimoSessionError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def cell_map(self, preview_lines: int = 3) -> CellMap:
        """`get_lightweight_cell_map`: every cell with a preview, type and state."""
        r = await self._tool("get_lightweight_cell_map", {"preview_lines": preview_lines})
        return CellMap(
            notebook_name=r.get("notebook_name", ""),
            cells=r.get("cells") or [],
            total_cells=r.get("total_cells", 0),
            preview_lines=r.get("preview_lines", preview_lines),
        )

    async def cell_runtime_data(self, cell_ids: Sequence[str]) -> list[CellRuntimeData]:
        """`get_cell_runtime_data`: code, errors, runtime state and variables per cell."""
        ids = list(cell_ids)
        r = await self._tool("get_cell_runtime_data", {"cell_ids": ids}, cell_ids=ids)
        return cast("list[CellRuntimeData]", r.get("data") or [])

    async def cell_outputs(self, cell_ids: Sequence[str] = ()) -> list[CellOutputs]:
        """`get_cell_outputs`: visual output and console per cell ([] = all cells)."""
        ids = list(cell_ids)
        r = await self._tool("get_cell_outputs", {"cell_ids": ids}, cell_ids=ids)
        return cast("list[CellOutputs]", r.get("cells") or [])

    async def notebook_errors(self) -> NotebookErrors:
        """`get_notebook_errors`."""
        r = await self._tool("get_notebook_errors", {})
        return NotebookErrors(
            has_errors=bool(r.get("has_errors")),
            total_errors=int(r.get("total_errors", 0)),
            total_cells_with_errors=int(r.get("total_cells_with_errors", 0)),
            cells=r.get("cells") or [],
        )

    async def tables_and_variables(self, names: Sequence[str] = ()) -> TablesAndVariables:
        """`get_tables_and_variables`: dataframes (columns, samples) and variables
        ([] = all)."""
        r = await self._tool("get_tables_and_variables", {"variable_names": list(names)})
        return TablesAndVariables(tables=r.get("tables") or {}, variables=r.get("variables") or {})

    async def database_tables(self, query: str | None = None) -> list[DatabaseTable]:
        """`get_database_tables`; [] when the notebook has no database connection."""
        try:
            r = await self._tool("get_database_tables", {"query": query})
        except MarimoError as exc:
            if exc.code == "NO_DATABASES_FOUND":
                return []
            raise
        return cast("list[DatabaseTable]", r.get("tables") or [])

    async def lint(self) -> LintReport:
        """`lint_notebook`: marimo's checker on the notebook as it is now."""
        r = await self._tool("lint_notebook", {})
        return LintReport(summary=r["summary"], diagnostics=r.get("diagnostics") or [])

    async def dependency_graph(
        self, cell_id: str | None = None, depth: int | None = None
    ) -> DependencyGraph:
        """`get_cell_dependency_graph`: defs/refs per cell, owners, multiply-defined names
        and cycles; around `cell_id` up to `depth` hops when given."""
        args: dict[str, Any] = {"cell_id": cell_id, "depth": depth}
        r = await self._tool(
            "get_cell_dependency_graph", args, cell_ids=(cell_id,) if cell_id else ()
        )
        return DependencyGraph(
            cells=r.get("cells") or [],
            variable_owners=r.get("variable_owners") or {},
            multiply_defined=r.get("multiply_defined") or [],
            cycles=r.get("cycles") or [],
        )

    async def marimo_rules(self) -> str:
        """`get_marimo_rules`: marimo's guide for writing notebooks (markdown)."""
        r = await self._tool("get_marimo_rules", {}, session_arg=False)
        return str(r.get("rules_content") or "")

    async def active_notebooks(self) -> ActiveNotebooks:
        """`get_active_notebooks`: the sessions of this server."""
        r = await self._tool("get_active_notebooks", {}, session_arg=False)
        data = r.get("data") or {}
        summary = data.get("summary") or {}
        return ActiveNotebooks(
            total_notebooks=int(summary.get("total_notebooks", 0)),
            active_connections=int(summary.get("active_connections", 0)),
            notebooks=data.get("notebooks") or [],
        )
