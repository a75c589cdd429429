"""Cells through the HTTP API: read the state, execute (create, update, run) and delete,
each audited like the agent's changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.errors import BadRequestError, marimo_errors
from hexa.marimo.errors import CellNotFoundError, CodeModeError, MarimoError
from hexa.marimo.models import PutCells
from hexa.notebooks.cell_states import read_state
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
            # One batch decides in the kernel, against the document as it runs, which
            # cells exist: no read beforehand, and it is the only work this call gives
            # marimo besides reading errors when a cell raised.
            batch = PutCells(tuple(zip(cell_ids, codes, strict=True)))
            try:
                put = (await client.apply([batch])).put
                success = True
            except CodeModeError as exc:
                if not exc.applied:
                    raise BadRequestError(f"marimo refused the cells: {exc}") from exc
                put, success = exc.put, False
            if len(put) != len(cell_ids):
                # The batch may have been applied: audited as what was asked for.
                problem = f"code mode reported {len(put)} of {len(cell_ids)} cells"
                await self._audit(
                    user,
                    notebook_id,
                    "api_execute_cells",
                    {"cell_ids": cell_ids},
                    before=None,
                    after=_joined(dict(zip(cell_ids, codes, strict=True))),
                    outcome=f"failed: {problem}",
                )
                raise MarimoError(problem)
            ids = [p.cell_id for p in put]
            errors: list[dict[str, Any]] = []
            if not success:
                report = await client.notebook_errors()
                errors = [dict(e) for e in report["cells"] if e["cell_id"] in ids]
        await self._audit(
            user,
            notebook_id,
            "api_execute_cells",
            {"cell_ids": cell_ids},
            before=_joined({p.cell_id: p.before for p in put if p.before is not None}),
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


def _joined(codes: Mapping[str, str]) -> str:
    return "\n\n".join(f"# cell {cid}\n{code}" for cid, code in codes.items())
