"""How the notebook tools read and change cells.

Every change is one code-mode batch (`apply_ops`), so it shows in the person's editor and
is saved to the file; a batch that outlasts the bounded wait keeps running in the
background and the tool says so (`still_running`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from hexa.agent.outputs import describe_cell_outputs, describe_errors
from hexa.agent.registry import ToolContext, ToolError, ToolOutcome
from hexa.agent.runs import LONG_RUN_LIMIT, Finished, StillRunning, bounded
from hexa.agent.views import CellChange
from hexa.marimo.errors import CodeModeError, MarimoError
from hexa.marimo.models import ApplyResult, CellErrors, Op
from hexa.marimo.protocol import NotebookClient

CODE_LIMIT = 8000  # characters of one cell's code shown to the model
MANY_OUTPUTS = 10  # past this many cells, a run reports errors rather than every output


def check_code(ctx: ToolContext, code: str) -> None:
    size = len(code.encode())
    if size > ctx.max_code_bytes:
        raise ToolError(f"the code is {size} bytes; a cell may have at most {ctx.max_code_bytes}")


def unless_applied(exc: CodeModeError, nothing: str) -> None:
    """A batch that failed before changing anything is the model's error to hear about;
    one that was applied and then raised while running is reported as a result."""
    if not exc.applied:
        raise ToolError(f"{nothing}: {exc.message}") from exc


def traceback_tail(exc: CodeModeError, lines: int = 8) -> str:
    """The end of the traceback a run raised (what the model needs to fix it)."""
    text = exc.traceback or exc.stderr or exc.message
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or exc.message


async def apply_ops(
    ctx: ToolContext, notebook_id: str, ops: Sequence[Op], label: str
) -> Finished[ApplyResult] | StillRunning:
    client = await ctx.client(notebook_id)
    return await bounded(
        client.apply(ops, timeout=LONG_RUN_LIMIT),
        wait=ctx.run_wait,
        keep=lambda task: ctx.background.keep(notebook_id, label, task),
    )


def still_running(waited: float, what: str) -> ToolOutcome:
    return ToolOutcome(
        content=(
            f"{what} was sent to marimo and is still running after {waited:g}s; it keeps "
            "running in the background. Check back later with get_notebook_map or get_cells "
            "(cell states) instead of sending it again."
        ),
        summary=f"{what}: still running after {waited:g}s",
    )


async def apply_or_wait(
    ctx: ToolContext, notebook_id: str, ops: Sequence[Op], label: str, what: str
) -> ToolOutcome | None:
    """Apply `ops`: `None` once done, or the "still running" outcome to return."""
    result = await apply_ops(ctx, notebook_id, ops, label)
    return still_running(result.waited, what) if isinstance(result, StillRunning) else None


async def outputs_text(client: NotebookClient, cell_ids: Sequence[str], limit: int = 2000) -> str:
    if not cell_ids:
        return ""
    try:
        cells = await client.cell_outputs(list(cell_ids))
    except MarimoError as exc:
        return f"(outputs unavailable: {exc.message})"
    if len(cells) == 1:
        return describe_cell_outputs(cells[0], limit)
    return "\n".join(f"`{c['cell_id']}`: {describe_cell_outputs(c, limit)}" for c in cells)


def error_line(cell: CellErrors) -> str:
    """One cell of marimo's error report, as a list item."""
    return f"- `{cell['cell_id']}`: {describe_errors(cell['errors'])}"


async def cell_codes(client: NotebookClient, cell_ids: Sequence[str]) -> dict[str, str]:
    """Current code of cells (CellNotFoundError for an unknown id)."""
    data = await client.cell_runtime_data(list(cell_ids))
    return {d["cell_id"]: d.get("code") or "" for d in data}


async def all_cell_ids(client: NotebookClient) -> list[str]:
    return [c["cell_id"] for c in (await client.cell_map(1))["cells"]]


async def chosen_or_all(client: NotebookClient, cell_ids: Sequence[str]) -> list[str]:
    """The cells a call names; naming none means every cell."""
    return list(cell_ids) or await all_cell_ids(client)


async def all_codes(client: NotebookClient) -> dict[str, str]:
    return await cell_codes(client, await all_cell_ids(client))


def joined(codes: dict[str, str]) -> str:
    """Several cells' code as one text (what `code_before` and `code_after` hold)."""
    return "\n\n".join(f"# cell {cid}\n{code}" for cid, code in codes.items())


def removed(codes: dict[str, str]) -> tuple[CellChange, ...]:
    """The approval card's cell-by-cell view of cells that would go."""
    return tuple(CellChange(cell_id=cid, before=code) for cid, code in codes.items())


def quoted(cell_ids: Iterable[str]) -> str:
    return ", ".join(f"`{c}`" for c in cell_ids)
