"""The notebook tools: what the agent can read, change and (with a yes) destroy.

Reads go through marimo's own tools (`invoke_tool`); every change goes through code mode
(one atomic batch per call), so it shows in the person's editor and is saved to the file.
Each tool names its notebook (`notebook_id`, defaulting to the chat's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import Field, model_validator

from hexa.agent.outputs import (
    clip,
    describe_cell_outputs,
    describe_errors,
    first_line,
    gist,
)
from hexa.agent.registry import (
    ApprovalPreview,
    NotebookArgs,
    Tier,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolOutcome,
    ToolRegistry,
    ToolSpec,
)
from hexa.agent.runs import LONG_RUN_LIMIT, Finished, StillRunning, bounded
from hexa.agent.views import CellChange
from hexa.marimo.errors import CodeModeError, MarimoError
from hexa.marimo.models import (
    ApplyResult,
    CreateCell,
    DeleteCell,
    EditCell,
    MoveCell,
    Op,
    RunCell,
    RunStale,
)
from hexa.marimo.protocol import NotebookClient

CODE_LIMIT = 8000  # characters of one cell's code shown to the model
MANY_OUTPUTS = 10  # past this many cells, a run reports errors rather than every output

CellId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


# ---------------------------------------------------------------------------- arguments


class MapArgs(NotebookArgs):
    preview_lines: int = Field(3, ge=1, le=20, description="Lines of code shown per cell.")


class CellIdsArgs(NotebookArgs):
    cell_ids: list[CellId] = Field(min_length=1, max_length=50, description="Cell ids.")


class SomeCellsArgs(NotebookArgs):
    cell_ids: list[CellId] = Field(
        default_factory=list, max_length=200, description="Cell ids; empty means every cell."
    )


class VariablesArgs(NotebookArgs):
    names: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Variable or dataframe names; empty means all of them.",
    )


class GraphArgs(NotebookArgs):
    cell_id: CellId | None = Field(None, description="Centre the graph on this cell.")
    depth: int | None = Field(None, ge=1, le=10, description="Hops from `cell_id`.")


class AddCellArgs(NotebookArgs):
    code: str = Field(description="Python code of the new cell (marimo rules apply).")
    after_cell_id: CellId | None = Field(None, description="Put it after this cell.")
    before_cell_id: CellId | None = Field(None, description="Put it before this cell.")
    name: str | None = Field(None, max_length=64, description="Optional cell name.")
    run: bool = Field(True, description="Run the cell once added.")

    @model_validator(mode="after")
    def _one_place(self) -> AddCellArgs:
        if self.after_cell_id and self.before_cell_id:
            raise ValueError("give after_cell_id or before_cell_id, not both")
        return self


class EditCellArgs(NotebookArgs):
    cell_id: CellId
    code: str = Field(description="The cell's complete new code.")
    run: bool = Field(True, description="Run the cell after the edit.")


class MoveCellArgs(NotebookArgs):
    cell_id: CellId
    after_cell_id: CellId | None = None
    before_cell_id: CellId | None = None

    @model_validator(mode="after")
    def _exactly_one_place(self) -> MoveCellArgs:
        if bool(self.after_cell_id) == bool(self.before_cell_id):
            raise ValueError("give exactly one of after_cell_id and before_cell_id")
        return self


class NoArgs(NotebookArgs):
    pass


class NewCellSpec(ToolArgs):
    code: str
    name: str | None = Field(None, max_length=64)


class ReplaceArgs(NotebookArgs):
    cells: list[NewCellSpec] = Field(min_length=1, max_length=200)
    run: bool = True


# ---------------------------------------------------------------------------- helpers


def _check_code(ctx: ToolContext, code: str) -> None:
    size = len(code.encode())
    if size > ctx.max_code_bytes:
        raise ToolError(f"the code is {size} bytes; a cell may have at most {ctx.max_code_bytes}")


def _tail(exc: CodeModeError, lines: int = 8) -> str:
    """The end of the traceback a run raised (what the model needs to fix it)."""
    text = exc.traceback or exc.stderr or exc.message
    kept = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(kept[-lines:]) or exc.message


async def _apply(
    ctx: ToolContext, notebook_id: str, ops: Sequence[Op], label: str
) -> Finished[ApplyResult] | StillRunning:
    client = await ctx.client(notebook_id)
    return await bounded(
        client.apply(ops, timeout=LONG_RUN_LIMIT),
        wait=ctx.run_wait,
        keep=lambda task: ctx.background.keep(notebook_id, label, task),
    )


def _still_running(waited: float, what: str) -> ToolOutcome:
    return ToolOutcome(
        content=(
            f"{what} was sent to marimo and is still running after {waited:g}s; it keeps "
            "running in the background. Check back later with get_notebook_map or get_cells "
            "(cell states) instead of sending it again."
        ),
        summary=f"{what}: still running after {waited:g}s",
    )


async def _outputs(client: NotebookClient, cell_ids: Sequence[str], limit: int = 2000) -> str:
    if not cell_ids:
        return ""
    try:
        cells = await client.cell_outputs(list(cell_ids))
    except MarimoError as exc:
        return f"(outputs unavailable: {exc.message})"
    if len(cells) == 1:
        return describe_cell_outputs(cells[0], limit)
    return "\n".join(f"`{c['cell_id']}`: {describe_cell_outputs(c, limit)}" for c in cells)


async def _codes(client: NotebookClient, cell_ids: Sequence[str]) -> dict[str, str]:
    """Current code of cells (CellNotFoundError for an unknown id)."""
    data = await client.cell_runtime_data(list(cell_ids))
    return {d["cell_id"]: d.get("code") or "" for d in data}


async def _all_ids(client: NotebookClient) -> list[str]:
    return [c["cell_id"] for c in (await client.cell_map(1))["cells"]]


def _joined(codes: dict[str, str]) -> str:
    return "\n\n".join(f"# cell {cid}\n{code}" for cid, code in codes.items())


def _removed(codes: dict[str, str]) -> tuple[CellChange, ...]:
    return tuple(CellChange(cell_id=cid, before=code) for cid, code in codes.items())


# ---------------------------------------------------------------------------- reads


async def notebook_map(ctx: ToolContext, args: MapArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    cell_map = await client.cell_map(args.preview_lines)
    lines = [
        f"Notebook {ctx.target(args)} ({cell_map['notebook_name']}): {len(cell_map['cells'])} cells"
    ]
    for cell in cell_map["cells"]:
        flags = [cell.get("runtime_state") or "not run"]
        if cell.get("has_errors"):
            flags.append("error")
        elif cell.get("has_output"):
            flags.append("output")
        if cell.get("has_console_output"):
            flags.append("console")
        preview = "\n    ".join(cell.get("preview", "").splitlines()) or "(empty)"
        lines.append(
            f"- `{cell['cell_id']}` [{', '.join(flags)}] {cell['cell_type']}\n    {preview}"
        )
    return ToolOutcome("\n".join(lines), f"{len(cell_map['cells'])} cells")


async def get_cells(ctx: ToolContext, args: CellIdsArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    parts = []
    for data in await client.cell_runtime_data(args.cell_ids):
        ctx.saw(ctx.target(args), data["cell_id"], data.get("code") or "")
        meta = data.get("metadata")
        state = (meta and meta.get("runtime_state")) or "not run"
        took = meta.get("execution_time") if meta else None
        head = f"## cell `{data['cell_id']}` [{state}" + (f", {took:.0f} ms" if took else "") + "]"
        body = [head, "```python", clip(data.get("code") or "", CODE_LIMIT), "```"]
        if data.get("errors"):
            body.append("errors:\n" + describe_errors(data["errors"] or []))
        variables = data.get("variables") or {}
        if variables:
            body.append(
                "defines: "
                + ", ".join(f"{name} ({v.get('datatype') or '?'})" for name, v in variables.items())
            )
        parts.append("\n".join(body))
    return ToolOutcome("\n\n".join(parts), f"read {len(parts)} cell(s)")


async def get_outputs(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    cells = await client.cell_outputs(args.cell_ids)
    limit = 2000 if len(cells) <= MANY_OUTPUTS else 400
    text = "\n\n".join(
        f"## cell `{c['cell_id']}`\n{describe_cell_outputs(c, limit)}" for c in cells
    )
    return ToolOutcome(text or "No cells.", f"outputs of {len(cells)} cell(s)")


async def get_errors(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    report = await client.notebook_errors()
    if not report["has_errors"]:
        return ToolOutcome("No cell has an error.", "no errors")
    lines = [f"{report['total_errors']} error(s) in {report['total_cells_with_errors']} cell(s):"]
    for cell in report["cells"]:
        lines.append(f"- `{cell['cell_id']}`: {describe_errors(cell['errors'])}")
        stderr = "".join(cell.get("stderr") or []).strip()
        if stderr:
            lines.append("  stderr: " + clip(stderr, 800).replace("\n", "\n  "))
    return ToolOutcome("\n".join(lines), f"{report['total_errors']} error(s)")


async def get_variables(ctx: ToolContext, args: VariablesArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    found = await client.tables_and_variables(args.names)
    lines = []
    for name, table in found["tables"].items():
        shape = f"{table.get('num_rows', '?')} rows x {table.get('num_columns', '?')} columns"
        lines.append(f"dataframe `{name}`: {shape}")
        for col in table.get("columns") or []:
            samples = ", ".join(clip(repr(s), 40) for s in (col.get("sample_values") or [])[:3])
            lines.append(f"  - {col.get('name')} ({col.get('type')}): {samples}")
    for name, var in found["variables"].items():
        if name in found["tables"]:
            continue
        value = clip(str(var.get("value") or ""), 200)
        lines.append(f"`{name}` ({var.get('datatype') or '?'}) = {value}")
    if not lines:
        return ToolOutcome("No variables defined (has the notebook run?).", "no variables")
    summary = f"{len(found['tables'])} dataframe(s), {len(found['variables'])} variable(s)"
    return ToolOutcome(clip("\n".join(lines), 12000), summary)


async def lint(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    report = await client.lint()
    summary = report["summary"]
    if not report["diagnostics"]:
        return ToolOutcome("marimo's checker found no issues.", "no lint issues")
    lines = [
        f"{summary['total_issues']} issue(s): {summary['breaking_issues']} breaking, "
        f"{summary['runtime_issues']} runtime, {summary['formatting_issues']} formatting"
    ]
    for d in report["diagnostics"][:50]:
        where = f"cell `{d.get('cell_id')}` " if d.get("cell_id") else ""
        lines.append(
            f"- {d.get('code', '')} {d.get('severity', '')} {where}"
            f"line {d.get('line', '?')}: {d.get('message', '')}"
        )
    return ToolOutcome("\n".join(lines), f"{summary['total_issues']} lint issue(s)")


async def dependency_graph(ctx: ToolContext, args: GraphArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    graph = await client.dependency_graph(args.cell_id, args.depth)
    lines = []
    for cell in graph["cells"]:
        defs = ", ".join(d.get("name", "?") for d in cell["defs"]) or "-"
        lines.append(
            f"- `{cell['cell_id']}` defines {defs}; uses {', '.join(cell['refs']) or '-'}; "
            f"after {', '.join(cell['parent_cell_ids']) or '-'}; "
            f"before {', '.join(cell['child_cell_ids']) or '-'}"
        )
    if graph["multiply_defined"]:
        lines.append("defined in more than one cell: " + ", ".join(graph["multiply_defined"]))
    for cycle in graph["cycles"]:
        lines.append("cycle: " + " -> ".join(cycle["cell_ids"]))
    return ToolOutcome("\n".join(lines) or "No cells.", f"graph of {len(graph['cells'])} cell(s)")


async def marimo_rules(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    rules = await client.marimo_rules()
    return ToolOutcome(clip(rules, 16000), "marimo's rules")


# ---------------------------------------------------------------------------- writes


async def add_cell(ctx: ToolContext, args: AddCellArgs) -> ToolOutcome:
    _check_code(ctx, args.code)
    notebook_id = ctx.target(args)
    op = CreateCell(
        args.code,
        after=args.after_cell_id,
        before=args.before_cell_id,
        name=args.name,
        run=args.run,
    )
    try:
        result = await _apply(ctx, notebook_id, [op], "add_cell")
    except CodeModeError as exc:
        if not exc.applied:
            raise ToolError(f"nothing was added: {exc.message}") from exc
        cell_id = exc.cell_ids[0] if exc.cell_ids else "?"
        return ToolOutcome(
            f"Added cell `{cell_id}`; running it raised:\n{_tail(exc)}",
            f"added cell {cell_id}; it raised {first_line(exc.message)}",
            code_after=args.code,
        )
    if isinstance(result, StillRunning):
        return _still_running(result.waited, "The new cell")
    cell_id = result.value.created[0]
    ctx.saw(notebook_id, cell_id, args.code)
    if not args.run:
        return ToolOutcome(
            f"Added cell `{cell_id}` (not run).", f"added cell {cell_id}", code_after=args.code
        )
    shown = await _outputs(await ctx.client(notebook_id), [cell_id])
    return ToolOutcome(
        f"Added cell `{cell_id}` and ran it.\n{shown}",
        f"added and ran cell {cell_id}: {gist(shown)}",
        code_after=args.code,
    )


async def edit_cell(ctx: ToolContext, args: EditCellArgs) -> ToolOutcome:
    _check_code(ctx, args.code)
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = (await _codes(client, [args.cell_id])).get(args.cell_id)
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
        result = await _apply(ctx, notebook_id, [op], "edit_cell")
    except CodeModeError as exc:
        if not exc.applied:
            raise ToolError(f"the cell was not changed: {exc.message}") from exc
        ctx.saw(notebook_id, args.cell_id, args.code)
        return ToolOutcome(
            f"Edited cell `{args.cell_id}`; running it raised:\n{_tail(exc)}",
            f"edited cell {args.cell_id}; it raised {first_line(exc.message)}",
            code_before=before,
            code_after=args.code,
        )
    ctx.saw(notebook_id, args.cell_id, args.code)
    if isinstance(result, StillRunning):
        outcome = _still_running(result.waited, f"The edit of cell `{args.cell_id}`")
        return ToolOutcome(
            outcome.content, outcome.summary, code_before=before, code_after=args.code
        )
    shown = await _outputs(client, [args.cell_id]) if args.run else "(not run)"
    return ToolOutcome(
        f"Edited cell `{args.cell_id}`{' and ran it' if args.run else ''}.\n{shown}",
        f"edited cell {args.cell_id}: {gist(shown)}",
        code_before=before,
        code_after=args.code,
    )


async def move_cell(ctx: ToolContext, args: MoveCellArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    op = MoveCell(args.cell_id, after=args.after_cell_id, before=args.before_cell_id)
    result = await _apply(ctx, notebook_id, [op], "move_cell")
    if isinstance(result, StillRunning):
        return _still_running(result.waited, f"The move of cell `{args.cell_id}`")
    where = (
        f"after `{args.after_cell_id}`" if args.after_cell_id else f"before `{args.before_cell_id}`"
    )
    return ToolOutcome(f"Moved cell `{args.cell_id}` {where}.", f"moved {args.cell_id} {where}")


async def _run_report(client: NotebookClient, cell_ids: Sequence[str]) -> str:
    if len(cell_ids) <= MANY_OUTPUTS:
        return await _outputs(client, cell_ids, limit=800)
    report = await client.notebook_errors()
    if not report["has_errors"]:
        return "No cell has an error."
    return "Errors:\n" + "\n".join(
        f"- `{c['cell_id']}`: {describe_errors(c['errors'])}" for c in report["cells"]
    )


async def run_cells(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    ids = list(args.cell_ids) or await _all_ids(client)
    if not ids:
        return ToolOutcome("The notebook has no cells to run.", "no cells")
    raised = ""
    try:
        result = await _apply(ctx, notebook_id, [RunCell(c) for c in ids], "run_cells")
    except CodeModeError as exc:
        if not exc.applied:
            raise ToolError(f"nothing was run: {exc.message}") from exc
        raised = " Some raised errors."
    else:
        if isinstance(result, StillRunning):
            return _still_running(result.waited, f"The run of {len(ids)} cell(s)")
    report = await _run_report(client, ids)
    return ToolOutcome(
        f"Ran {len(ids)} cell(s).{raised}\n{report}",
        f"ran {len(ids)} cell(s){raised.lower().rstrip('.')}",
    )


async def run_stale(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    try:
        result = await _apply(ctx, notebook_id, [RunStale()], "run_stale_cells")
    except CodeModeError as exc:
        if not exc.applied:
            raise ToolError(f"nothing was run: {exc.message}") from exc
    else:
        if isinstance(result, StillRunning):
            return _still_running(result.waited, "The run of the stale cells")
    report = await client.notebook_errors()
    errors = (
        "No cell has an error."
        if not report["has_errors"]
        else (
            "Errors:\n"
            + "\n".join(
                f"- `{c['cell_id']}`: {describe_errors(c['errors'])}" for c in report["cells"]
            )
        )
    )
    return ToolOutcome(f"Ran the stale cells.\n{errors}", "ran stale cells")


async def format_cells(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    ids = list(args.cell_ids) or await _all_ids(client)
    before = await _codes(client, ids)
    formatted = await client.format(before)
    changed = {cid: code for cid, code in formatted.items() if before.get(cid) != code}
    if not changed:
        return ToolOutcome("The cells were already formatted.", "nothing to format")
    # Formatting changes no behaviour: the cells are not re-run.
    ops: list[Op] = [EditCell(cid, code=code, run=False) for cid, code in changed.items()]
    result = await _apply(ctx, notebook_id, ops, "format_cells")
    if isinstance(result, StillRunning):
        return _still_running(result.waited, "The formatting")
    return ToolOutcome(
        f"Formatted {len(changed)} cell(s): {', '.join(f'`{c}`' for c in changed)} (not re-run).",
        f"formatted {len(changed)} cell(s)",
        code_before=_joined({c: before[c] for c in changed}),
        code_after=_joined(changed),
    )


async def interrupt(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    await client.interrupt()
    return ToolOutcome("Interrupted the running cell(s).", "interrupted the kernel")


# ---------------------------------------------------------------------------- destructive


async def delete_cells(ctx: ToolContext, args: CellIdsArgs) -> ToolOutcome:
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = await _codes(client, args.cell_ids)
    ops: list[Op] = [DeleteCell(c) for c in args.cell_ids]
    result = await _apply(ctx, notebook_id, ops, "delete_cells")
    if isinstance(result, StillRunning):
        return _still_running(result.waited, "The deletion")
    ids = ", ".join(f"`{c}`" for c in args.cell_ids)
    return ToolOutcome(
        f"Deleted cell(s) {ids}.",
        f"deleted {len(args.cell_ids)} cell(s)",
        code_before=_joined(before),
    )


async def preview_delete(ctx: ToolContext, args: CellIdsArgs) -> ApprovalPreview:
    client = await ctx.client(ctx.target(args))
    before = await _codes(client, args.cell_ids)
    ids = ", ".join(args.cell_ids)
    notebook = await ctx.label(ctx.target(args))
    return ApprovalPreview(
        f"Delete {len(args.cell_ids)} cell(s) ({ids}) from notebook {notebook}",
        code_before=_joined(before),
        changes=_removed(before),
    )


async def clear_outputs(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    # marimo 0.25.2 offers no call that clears an output from outside its editor (the
    # editor's "clear output" is browser-side). What Hexa can do is re-set each cell's
    # code without running it; marimo then keeps showing the last output. Say so.
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    ids = list(args.cell_ids) or await _all_ids(client)
    codes = await _codes(client, ids)
    ops: list[Op] = [EditCell(cid, code=code, run=False) for cid, code in codes.items()]
    result = await _apply(ctx, notebook_id, ops, "clear_outputs")
    if isinstance(result, StillRunning):
        return _still_running(result.waited, "Re-setting the cells")
    return ToolOutcome(
        f"Re-set the code of {len(ops)} cell(s) without running them. marimo 0.25.2 has no "
        "way to clear an output from outside its editor, so the outputs stay visible until "
        "the cells run again; the person can clear them with the cell menu's 'Clear output'.",
        f"re-set {len(ops)} cell(s); outputs not cleared (marimo has no API for it)",
        ok=False,
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


async def replace_notebook(ctx: ToolContext, args: ReplaceArgs) -> ToolOutcome:
    for cell in args.cells:
        _check_code(ctx, cell.code)
    notebook_id = ctx.target(args)
    client = await ctx.client(notebook_id)
    before = await _codes(client, await _all_ids(client))
    try:
        ids = await client.replace_cells(
            [(c.code, c.name) for c in args.cells], run=args.run, timeout=LONG_RUN_LIMIT
        )
    except CodeModeError as exc:
        if not exc.applied:
            raise ToolError(f"the notebook was not changed: {exc.message}") from exc
        ids = list(exc.cell_ids)
    after = dict(zip(ids, (c.code for c in args.cells), strict=False))
    return ToolOutcome(
        f"Replaced the notebook's {len(before)} cell(s) with {len(args.cells)} new cell(s): "
        + ", ".join(f"`{c}`" for c in ids),
        f"replaced the notebook ({len(args.cells)} cells)",
        code_before=_joined(before),
        code_after=_joined(after),
    )


async def preview_replace(ctx: ToolContext, args: ReplaceArgs) -> ApprovalPreview:
    client = await ctx.client(ctx.target(args))
    before = await _codes(client, await _all_ids(client))
    added = args.cells
    after = "\n\n".join(c.code for c in added)
    return ApprovalPreview(
        f"Replace all {len(before)} cell(s) of notebook {await ctx.label(ctx.target(args))} "
        f"with {len(args.cells)} new cell(s)",
        code_before=_joined(before),
        code_after=after,
        changes=_removed(before)
        + tuple(CellChange(cell_id=None, after=c.code) for c in args.cells),
    )


async def preview_restart(ctx: ToolContext, args: NoArgs) -> ApprovalPreview:
    notebook = await ctx.label(ctx.target(args))
    return ApprovalPreview(
        f"Restart the kernel of notebook {notebook}: every variable is lost and the cells run again"
    )


async def preview_clear(ctx: ToolContext, args: SomeCellsArgs) -> ApprovalPreview:
    which = ", ".join(args.cell_ids) if args.cell_ids else "every cell"
    return ApprovalPreview(
        f"Clear the outputs of {which} in notebook {await ctx.label(ctx.target(args))}"
    )


# ---------------------------------------------------------------------------- registry


def register_notebook_tools(registry: ToolRegistry) -> None:
    """The built-in notebook tools (DESIGN.md §5)."""
    specs: list[ToolSpec[Any]] = [
        ToolSpec(
            "get_notebook_map",
            "List the notebook's cells in order: id, run state, whether it has output or "
            "errors, and the first lines of code. Start here to find cell ids.",
            MapArgs,
            Tier.READ,
            notebook_map,
        ),
        ToolSpec(
            "get_cells",
            "Read cells in full: code, run state, execution time, errors, and the variables "
            "each defines.",
            CellIdsArgs,
            Tier.READ,
            get_cells,
        ),
        ToolSpec(
            "get_cell_outputs",
            "Read cells' outputs as text (HTML and images summarised, long output cut) and "
            "their stdout/stderr. Empty cell_ids: every cell.",
            SomeCellsArgs,
            Tier.READ,
            get_outputs,
        ),
        ToolSpec(
            "get_notebook_errors",
            "Every error in the notebook, per cell, with stderr.",
            NoArgs,
            Tier.READ,
            get_errors,
        ),
        ToolSpec(
            "get_variables",
            "Variables and dataframes in the kernel: dataframes with rows, columns, column "
            "types and sample values; other variables with type and value.",
            VariablesArgs,
            Tier.READ,
            get_variables,
        ),
        ToolSpec(
            "lint_notebook",
            "Run marimo's checker on the notebook: breaking, runtime and formatting issues.",
            NoArgs,
            Tier.READ,
            lint,
        ),
        ToolSpec(
            "get_dependency_graph",
            "Which cell defines and uses which names, the order they must run in, names "
            "defined twice, and cycles.",
            GraphArgs,
            Tier.READ,
            dependency_graph,
        ),
        ToolSpec(
            "get_marimo_rules",
            "marimo's own guide to writing notebook cells (reactivity, one definition per "
            "name, UI elements, SQL, plots).",
            NoArgs,
            Tier.READ,
            marimo_rules,
        ),
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
    ]
    for spec in specs:
        registry.register(spec)
