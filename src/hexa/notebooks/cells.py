"""Cells through the HTTP API: read the state, execute (create, update, run) and delete,
each audited like the agent's changes."""

from __future__ import annotations

import asyncio
import keyword
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.errors import BadRequestError, marimo_errors
from hexa.marimo.errors import CellNotFoundError, CodeModeError
from hexa.marimo.models import CreateCell, EditCell, NewCell, Op, RunCell
from hexa.notebooks.cell_states import CellState, read_state
from hexa.notebooks.service import NotebookService
from hexa.notebooks.views import CellInfo, CellsReport, ExecuteResult
from hexa.store import AuditRepository
from hexa.users import Principal


class CellService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        notebooks: NotebookService,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self._sessions = sessions
        self._notebooks = notebooks
        self._redact = redact  # for the audit log: keys never land in it

    async def state(self, user: Principal, notebook_id: str) -> CellsReport:
        client = (await self._notebooks.running(user, notebook_id)).client
        with marimo_errors(notebook_id):
            cell_map, errors, values = await asyncio.gather(
                client.cell_map(preview_lines=3),
                client.notebook_errors(),
                client.tables_and_variables(),
            )
        cells = [
            CellInfo(
                cell_id=c["cell_id"],
                preview=c.get("preview", ""),
                line_count=c.get("line_count", 0),
                cell_type=c.get("cell_type", "code"),
                runtime_state=c.get("runtime_state"),
                has_output=bool(c.get("has_output")),
                has_errors=bool(c.get("has_errors")),
            )
            for c in cell_map["cells"]
        ]
        return CellsReport(
            notebook_id=notebook_id,
            cells=cells,
            errors=[dict(e) for e in errors["cells"]],
            variables=dict(values["variables"]),
        )

    async def execute(
        self, user: Principal, notebook_id: str, cell_ids: list[str], codes: list[str]
    ) -> ExecuteResult:
        """Create the cells marimo has not seen, update changed ones, run them all, in one
        atomic code-mode batch (visible in the editor, saved to the file)."""
        if len(cell_ids) != len(codes):
            raise BadRequestError("cell_ids and codes must have the same length")
        if len(set(cell_ids)) != len(cell_ids):
            raise BadRequestError("cell_ids must not repeat: each names one cell")
        self._notebooks.check_code_sizes(codes)
        client = (await self._notebooks.running(user, notebook_id)).client
        with marimo_errors(notebook_id):
            # The server's document, not a code-mode read: the batch below is the only
            # work this call gives the kernel.
            cells = await read_state(client)
            existing = {cell.cell_id: cell.code for cell in cells}
            ops, order = _plan(cell_ids, codes, cells)
            try:
                created = (await client.apply(ops)).created
                success = True
            except CodeModeError as exc:
                if not exc.applied:
                    raise BadRequestError(f"marimo refused the cells: {exc}") from exc
                created, success = exc.cell_ids, False
            ids = [created[t.index] if isinstance(t, NewCell) else t for t in order]
            errors: list[dict[str, Any]] = []
            if not success:
                report = await client.notebook_errors()
                errors = [dict(e) for e in report["cells"] if e["cell_id"] in ids]
        await self._audit(
            user,
            notebook_id,
            "api_execute_cells",
            {"cell_ids": cell_ids},
            before=_joined({i: existing[i] for i in cell_ids if i in existing}),
            after=_joined(dict(zip(ids, codes, strict=True))),
            outcome=("ok" if success else "failed") + f": ran {', '.join(ids)}",
        )
        return ExecuteResult(success=success, cell_ids=ids, errors=errors)

    async def delete(self, user: Principal, notebook_id: str, cell_id: str) -> None:
        client = (await self._notebooks.running(user, notebook_id)).client
        with marimo_errors(notebook_id):
            before = {c.cell_id: c.code for c in await read_state(client)}
            if cell_id not in before:
                raise CellNotFoundError(cell_id)
            await client.delete_cells([cell_id])
        await self._audit(
            user,
            notebook_id,
            "api_delete_cell",
            {"cell_id": cell_id},
            before=_joined({cell_id: before[cell_id]}),
            after=None,
            outcome=f"ok: deleted cell {cell_id}",
        )

    async def _audit(
        self,
        user: Principal,
        notebook_id: str,
        action: str,
        args: dict[str, Any],
        *,
        before: str | None,
        after: str | None,
        outcome: str,
    ) -> None:
        """A change made through the API is audited like the agent's (by the person)."""
        async with self._sessions.begin() as session:
            await AuditRepository(session).append(
                user_id=user.id,
                user_name=user.name,
                notebook_id=notebook_id,
                tool_name=action,
                args=args,
                code_before=self._redact(before) if before else None,
                code_after=self._redact(after) if after else None,
                decision=None,
                outcome=self._redact(outcome),
            )


def _plan(
    cell_ids: list[str], codes: list[str], cells: list[CellState]
) -> tuple[list[Op], list[str | NewCell]]:
    """The batch for an execute call, and where each requested cell ends up (an id, or
    the index of a cell the batch creates)."""
    existing = {cell.cell_id: cell for cell in cells}
    # A caller's id names its cell: the first call creates it under that name (ids marimo
    # hands out change with position on a reload; names are saved).
    named = {cell.name: cell for cell in cells if cell.name}
    ops: list[Op] = []
    order: list[str | NewCell] = []
    previous: str | NewCell | None = None
    for cell_id, code in zip(cell_ids, codes, strict=True):
        known = existing.get(cell_id) or named.get(cell_id)
        target: str | NewCell
        if known is not None:
            ops.append(
                EditCell(known.cell_id, code=code, run=True)
                if known.code != code
                else RunCell(known.cell_id)
            )
            target = known.cell_id
        else:
            # New cells keep the request's order: each follows the one before it.
            name = cell_id if _usable_name(cell_id, named) else None
            # Two calls with the same new id at once: the kernel makes the cell once.
            ops.append(
                CreateCell(code, after=previous, name=name, run=True, reuse_name=name is not None)
            )
            target = NewCell(sum(isinstance(t, NewCell) for t in order))
        order.append(target)
        previous = target
    return ops, order


def _usable_name(cell_id: str, taken: Mapping[str, object]) -> bool:
    """A caller's id that can be a marimo cell name (a Python identifier, not `_`)."""
    return (
        cell_id.isidentifier()
        and not keyword.iskeyword(cell_id)
        and not cell_id.startswith("_")
        and cell_id not in taken
    )


def _joined(codes: Mapping[str, str]) -> str:
    return "\n\n".join(f"# cell {cid}\n{code}" for cid, code in codes.items())
