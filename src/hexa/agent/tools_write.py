"""The write tools: changes applied at once (add, edit, move, run, format, interrupt).

Each change is one code-mode batch; a run waits a bounded time and then reports that it
carries on in the background rather than holding the turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hexa.agent.cell_access import (
    CODE_LIMIT,
    MANY_OUTPUTS,
    apply_ops,
    apply_or_wait,
    as_list,
    cell_codes,
    check_code,
    chosen_or_all,
    explained_errors,
    joined,
    outputs_text,
    quoted,
    still_running,
    traceback_tail,
    unless_applied,
)
from hexa.agent.outputs import clip, first_line, gist
from hexa.agent.registry import Tier, ToolContext, ToolError, ToolOutcome, ToolSpec
from hexa.agent.runs import StillRunning
from hexa.agent.tools_args import AddCellArgs, EditCellArgs, MoveCellArgs, NoArgs, SomeCellsArgs
from hexa.marimo.errors import CodeModeError
from hexa.marimo.models import CreateCell, EditCell, MoveCell, Op, RunCell, RunStale
from hexa.marimo.protocol import NotebookClient


async def add_cell(ctx: ToolContext, args: AddCellArgs) -> ToolOutcome:
    check_code(ctx, args.code)
    notebook_id = ctx.target(args)
    op = CreateCell(
        args.code,
        after=args.after_cell_id,
        before=args.before_cell_id,
        name=args.name,
        run=args.run,
    )
    try:
        result = await apply_ops(ctx, notebook_id, [op], "add_cell")
    except CodeModeError as exc:
        unless_applied(exc, "nothing was added")
        cell_id = exc.cell_ids[0] if exc.cell_ids else "?"
        return ToolOutcome(
            f"Added cell `{cell_id}`; running it raised:\n{traceback_tail(exc)}",
            f"added cell {cell_id}; it raised {first_line(exc.message)}",
            code_after=args.code,
        )
    if isinstance(result, StillRunning):
        return still_running(result.waited, "The new cell")
    cell_id = result.value.created[0]
    ctx.saw(notebook_id, cell_id, args.code)
    if not args.run:
        return ToolOutcome(
            f"Added cell `{cell_id}` (not run).", f"added cell {cell_id}", code_after=args.code
        )
    shown = await outputs_text(await ctx.client(notebook_id), [cell_id])
    return ToolOutcome(
        f"Added cell `{cell_id}` and ran it.\n{shown}",
        f"added and ran cell {cell_id}: {gist(shown)}",
        code_after=args.code,
    )


async def edit_cell(ctx: ToolContext, args: EditCellArgs) -> ToolOutcome:
    check_code(ctx, args.code)
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = (await cell_codes(client, [args.cell_id])).get(args.cell_id)
    last_seen = ctx.seen.get(notebook_id, {}).get(args.cell_id)
    if before is not None and last_seen is not None and before != last_seen:
        # Someone (the person, in the editor) changed it since the agent read it.
        ctx.saw(notebook_id, args.cell_id, before)
        raise ToolError(
            f"cell `{args.cell_id}` changed since you last read it (the person may have "
            "edited it); nothing was overwritten. Its code now:\n```python\n"
            f"{clip(before, CODE_LIMIT)}\n```\nBase your edit on this code."
        )
    op = EditCell(args.cell_id, code=args.code, run=args.run)
    try:
        result = await apply_ops(ctx, notebook_id, [op], "edit_cell")
    except CodeModeError as exc:
        unless_applied(exc, "the cell was not changed")
        ctx.saw(notebook_id, args.cell_id, args.code)
        return ToolOutcome(
            f"Edited cell `{args.cell_id}`; running it raised:\n{traceback_tail(exc)}",
            f"edited cell {args.cell_id}; it raised {first_line(exc.message)}",
            code_before=before,
            code_after=args.code,
        )
    ctx.saw(notebook_id, args.cell_id, args.code)
    if isinstance(result, StillRunning):
        outcome = still_running(result.waited, f"The edit of cell `{args.cell_id}`")
        return ToolOutcome(
            outcome.content, outcome.summary, code_before=before, code_after=args.code
        )
    shown = await outputs_text(client, [args.cell_id]) if args.run else "(not run)"
    return ToolOutcome(
        f"Edited cell `{args.cell_id}`{' and ran it' if args.run else ''}.\n{shown}",
        f"edited cell {args.cell_id}: {gist(shown)}",
        code_before=before,
        code_after=args.code,
    )


async def move_cell(ctx: ToolContext, args: MoveCellArgs) -> ToolOutcome:
    op = MoveCell(args.cell_id, after=args.after_cell_id, before=args.before_cell_id)
    what = f"The move of cell `{args.cell_id}`"
    waiting = await apply_or_wait(ctx, ctx.target(args), [op], "move_cell", what)
    if waiting is not None:
        return waiting
    where = (
        f"after `{args.after_cell_id}`" if args.after_cell_id else f"before `{args.before_cell_id}`"
    )
    return ToolOutcome(f"Moved cell `{args.cell_id}` {where}.", f"moved {args.cell_id} {where}")


async def _run(
    ctx: ToolContext, notebook_id: str, ops: Sequence[Op], label: str, what: str
) -> ToolOutcome | str:
    """Run cells: the "still running" outcome, else a note on whether some raised."""
    try:
        waiting = await apply_or_wait(ctx, notebook_id, ops, label, what)
    except CodeModeError as exc:
        unless_applied(exc, "nothing was run")
        return " Some raised errors."
    return "" if waiting is None else waiting


async def _errors_summary(client: NotebookClient) -> str:
    report = await client.notebook_errors()
    if not report["has_errors"]:
        return "No cell has an error."
    explained = await explained_errors(client, [c["cell_id"] for c in report["cells"]], report)
    return "Errors:\n" + "\n".join(as_list(explained.values()))


async def _run_report(client: NotebookClient, cell_ids: Sequence[str]) -> str:
    if len(cell_ids) <= MANY_OUTPUTS:
        return await outputs_text(client, cell_ids, limit=800)
    return await _errors_summary(client)


async def run_cells(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    ids = await chosen_or_all(client, args.cell_ids)
    if not ids:
        return ToolOutcome("The notebook has no cells to run.", "no cells")
    ops = [RunCell(c) for c in ids]
    ran = await _run(ctx, notebook_id, ops, "run_cells", f"The run of {len(ids)} cell(s)")
    if isinstance(ran, ToolOutcome):
        return ran
    report = await _run_report(client, ids)
    return ToolOutcome(
        f"Ran {len(ids)} cell(s).{ran}\n{report}",
        f"ran {len(ids)} cell(s){ran.lower().rstrip('.')}",
    )


async def run_stale(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    what = "The run of the stale cells"
    ran = await _run(ctx, notebook_id, [RunStale()], "run_stale_cells", what)
    if isinstance(ran, ToolOutcome):
        return ran
    errors = await _errors_summary(client)
    return ToolOutcome(f"Ran the stale cells.\n{errors}", "ran stale cells")


async def format_cells(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = await cell_codes(client, await chosen_or_all(client, args.cell_ids))
    formatted = await client.format(before)
    changed = {cid: code for cid, code in formatted.items() if before.get(cid) != code}
    if not changed:
        return ToolOutcome("The cells were already formatted.", "nothing to format")
    # Formatting changes no behaviour: the cells are not re-run.
    ops: list[Op] = [EditCell(cid, code=code, run=False) for cid, code in changed.items()]
    waiting = await apply_or_wait(ctx, notebook_id, ops, "format_cells", "The formatting")
    if waiting is not None:
        return waiting
    return ToolOutcome(
        f"Formatted {len(changed)} cell(s): {quoted(changed)} (not re-run).",
        f"formatted {len(changed)} cell(s)",
        code_before=joined({c: before[c] for c in changed}),
        code_after=joined(changed),
    )


async def interrupt(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    await client.interrupt()
    return ToolOutcome("Interrupted the running cell(s).", "interrupted the kernel")


WRITE_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "add_cell",
        "Add a code cell (at the end, or after/before a cell) and run it; returns its id "
        "and output. Each name may be defined in one cell only.",
        AddCellArgs,
        Tier.WRITE,
        add_cell,
        changes_cells=True,
    ),
    ToolSpec(
        "edit_cell",
        "Replace a cell's code and run it; returns its new output.",
        EditCellArgs,
        Tier.WRITE,
        edit_cell,
        changes_cells=True,
    ),
    ToolSpec(
        "move_cell",
        "Move a cell after or before another cell (order is only visual in marimo).",
        MoveCellArgs,
        Tier.WRITE,
        move_cell,
        changes_cells=True,
    ),
    ToolSpec(
        "run_cells",
        "Run cells (their dependents re-run too). Empty cell_ids: every cell. Waits a "
        "bounded time, then reports that the run continues in the background.",
        SomeCellsArgs,
        Tier.WRITE,
        run_cells,
    ),
    ToolSpec(
        "run_stale_cells",
        "Run every stale cell (edited or never run).",
        NoArgs,
        Tier.WRITE,
        run_stale,
    ),
    ToolSpec(
        "format_cells",
        "Format cells' code with ruff (not re-run). Empty cell_ids: every cell.",
        SomeCellsArgs,
        Tier.WRITE,
        format_cells,
        changes_cells=True,
    ),
    ToolSpec(
        "interrupt_kernel",
        "Interrupt the cell(s) running now.",
        NoArgs,
        Tier.WRITE,
        interrupt,
    ),
)
