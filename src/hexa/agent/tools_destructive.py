"""The destructive tools: they lose work or state, so each runs only after the person's yes.

Each has a preview, the approval card's sentence and the code that would go; the code
before is what the approval binds.
"""

from __future__ import annotations

from typing import Any

from hexa.agent.cell_access import (
    all_codes,
    apply_or_wait,
    cell_codes,
    check_code,
    chosen_or_all,
    joined,
    quoted,
    removed,
    unless_applied,
)
from hexa.agent.registry import ApprovalPreview, Tier, ToolContext, ToolOutcome, ToolSpec
from hexa.agent.runs import LONG_RUN_LIMIT
from hexa.agent.tools_args import CellIdsArgs, NoArgs, ReplaceArgs, SomeCellsArgs
from hexa.agent.views import CellChange
from hexa.marimo.errors import CodeModeError
from hexa.marimo.models import DeleteCell, EditCell, Op


async def delete_cells(ctx: ToolContext, args: CellIdsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = await cell_codes(client, args.cell_ids)
    ops: list[Op] = [DeleteCell(c) for c in args.cell_ids]
    waiting = await apply_or_wait(ctx, notebook_id, ops, "delete_cells", "The deletion")
    if waiting is not None:
        return waiting
    return ToolOutcome(
        f"Deleted cell(s) {quoted(args.cell_ids)}.",
        f"deleted {len(args.cell_ids)} cell(s)",
        code_before=joined(before),
    )


async def preview_delete(ctx: ToolContext, args: CellIdsArgs) -> ApprovalPreview:
    client = await ctx.client(ctx.target(args))
    before = await cell_codes(client, args.cell_ids)
    ids = ", ".join(args.cell_ids)
    notebook = await ctx.label(ctx.target(args))
    return ApprovalPreview(
        f"Delete {len(args.cell_ids)} cell(s) ({ids}) from notebook {notebook}",
        code_before=joined(before),
        changes=removed(before),
    )


async def clear_outputs(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    # marimo 0.25.2 offers no call that clears an output from outside its editor (the
    # editor's "clear output" is browser-side). What Hexa can do is re-set each cell's
    # code without running it; marimo then keeps showing the last output. Say so.
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    codes = await cell_codes(client, await chosen_or_all(client, args.cell_ids))
    ops: list[Op] = [EditCell(cid, code=code, run=False) for cid, code in codes.items()]
    waiting = await apply_or_wait(ctx, notebook_id, ops, "clear_outputs", "Re-setting the cells")
    if waiting is not None:
        return waiting
    return ToolOutcome(
        f"Re-set the code of {len(ops)} cell(s) without running them. marimo 0.25.2 has no "
        "way to clear an output from outside its editor, so the outputs stay visible until "
        "the cells run again; the person can clear them with the cell menu's 'Clear output'.",
        f"re-set {len(ops)} cell(s); outputs not cleared (marimo has no API for it)",
        ok=False,
    )


async def preview_clear(ctx: ToolContext, args: SomeCellsArgs) -> ApprovalPreview:
    which = ", ".join(args.cell_ids) if args.cell_ids else "every cell"
    return ApprovalPreview(
        f"Clear the outputs of {which} in notebook {await ctx.label(ctx.target(args))}"
    )


async def restart_kernel(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    # A fresh marimo process from the saved file: the kernel's state is gone, the cells
    # stay. The supervisor keeps track of the new session, which a bare kernel restart
    # through the client would not tell it about.
    await ctx.notebooks.restart(ctx.user, notebook_id)
    ctx.forget_client(notebook_id)
    return ToolOutcome(
        f"Restarted notebook {notebook_id}'s kernel: every variable is gone and the cells "
        "ran again from the saved file. The person's editor tab reloads.",
        "restarted the kernel",
    )


async def preview_restart(ctx: ToolContext, args: NoArgs) -> ApprovalPreview:
    notebook = await ctx.label(ctx.target(args))
    return ApprovalPreview(
        f"Restart the kernel of notebook {notebook}: every variable is lost and the cells run again"
    )


async def replace_notebook(ctx: ToolContext, args: ReplaceArgs) -> ToolOutcome:
    for cell in args.cells:
        check_code(ctx, cell.code)
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = await all_codes(client)
    try:
        ids = await client.replace_cells(
            [(c.code, c.name) for c in args.cells],
            run=args.run,
            timeout=LONG_RUN_LIMIT,
            on_before=ctx.before_hook(notebook_id),
        )
    except CodeModeError as exc:
        unless_applied(exc, "the notebook was not changed")
        ids = list(exc.cell_ids)
    after = dict(zip(ids, (c.code for c in args.cells), strict=False))
    return ToolOutcome(
        f"Replaced the notebook's {len(before)} cell(s) with {len(args.cells)} new cell(s): "
        + quoted(ids),
        f"replaced the notebook ({len(args.cells)} cells)",
        code_before=joined(before),
        code_after=joined(after),
    )


async def preview_replace(ctx: ToolContext, args: ReplaceArgs) -> ApprovalPreview:
    client = await ctx.client(ctx.target(args))
    before = await all_codes(client)
    return ApprovalPreview(
        f"Replace all {len(before)} cell(s) of notebook {await ctx.label(ctx.target(args))} "
        f"with {len(args.cells)} new cell(s)",
        code_before=joined(before),
        code_after="\n\n".join(c.code for c in args.cells),
        changes=removed(before) + tuple(CellChange(cell_id=None, after=c.code) for c in args.cells),
    )


DESTRUCTIVE_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "delete_cells",
        "Delete cells. Needs the person's approval: call it directly, the person is "
        "asked before anything is deleted.",
        CellIdsArgs,
        Tier.DESTRUCTIVE,
        delete_cells,
        changes_cells=True,
        preview=preview_delete,
    ),
    ToolSpec(
        "clear_outputs",
        "Ask to clear cells' outputs (marimo 0.25.2 cannot clear them from outside its "
        "editor; the tool says what it could do). Needs the person's approval.",
        SomeCellsArgs,
        Tier.DESTRUCTIVE,
        clear_outputs,
        changes_cells=True,
        preview=preview_clear,
    ),
    ToolSpec(
        "restart_kernel",
        "Restart the notebook's kernel: all variables are lost and the cells run again. "
        "Needs the person's approval.",
        NoArgs,
        Tier.DESTRUCTIVE,
        restart_kernel,
        preview=preview_restart,
    ),
    ToolSpec(
        "replace_notebook",
        "Replace every cell of the notebook with new cells. Needs the person's approval.",
        ReplaceArgs,
        Tier.DESTRUCTIVE,
        replace_notebook,
        changes_cells=True,
        preview=preview_replace,
    ),
)
