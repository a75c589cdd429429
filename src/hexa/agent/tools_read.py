"""The read tools: what the agent can learn about a notebook without changing it.

They go through marimo's own tools (`invoke_tool`) and turn the answers into text for the
model; `get_cells` also records the code read, so a later edit can tell whether the person
changed the cell since.
"""

from __future__ import annotations

from typing import Any

from hexa.agent.cell_access import CODE_LIMIT, as_list, explained_errors, outputs_report
from hexa.agent.outputs import clip, fenced
from hexa.agent.registry import Tier, ToolContext, ToolOutcome, ToolSpec
from hexa.agent.tools_args import (
    CellIdsArgs,
    GraphArgs,
    MapArgs,
    NoArgs,
    SomeCellsArgs,
    VariablesArgs,
)


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
        preview = cell.get("preview", "").rstrip("\n")
        shown = fenced(preview, "python").replace("\n", "\n  ") if preview else "(empty)"
        lines.append(f"- `{cell['cell_id']}` [{', '.join(flags)}] {cell['cell_type']}\n  {shown}")
    return ToolOutcome("\n".join(lines), f"{len(cell_map['cells'])} cells")


async def get_cells(ctx: ToolContext, args: CellIdsArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    data = await client.cell_runtime_data(args.cell_ids)
    failing = [d["cell_id"] for d in data if d.get("errors")]
    errors = await explained_errors(client, failing) if failing else {}
    parts = []
    for cell in data:
        code = cell.get("code") or ""
        ctx.saw(ctx.target(args), cell["cell_id"], code)
        meta = cell.get("metadata")
        state = (meta and meta.get("runtime_state")) or "not run"
        took = meta.get("execution_time") if meta else None
        head = f"cell `{cell['cell_id']}` [{state}" + (f", {took:.0f} ms" if took else "") + "]:"
        body = [head, fenced(clip(code, CODE_LIMIT), "python")]
        if cell["cell_id"] in errors:
            body.append("error:\n" + errors[cell["cell_id"]])
        variables = cell.get("variables") or {}
        if variables:
            body.append(
                "defines: "
                + ", ".join(f"{name} ({v.get('datatype') or '?'})" for name, v in variables.items())
            )
        parts.append("\n".join(body))
    return ToolOutcome("\n\n".join(parts), f"read {len(parts)} cell(s)")


async def get_outputs(ctx: ToolContext, args: SomeCellsArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    report = await outputs_report(client, args.cell_ids, many=True)
    return ToolOutcome(
        report.text or "No cells.", f"outputs of {report.count} cell(s)", images=report.images
    )


async def get_errors(ctx: ToolContext, args: NoArgs) -> ToolOutcome:
    client = await ctx.client(ctx.target(args))
    report = await client.notebook_errors()
    if not report["has_errors"]:
        return ToolOutcome("No cell has an error.", "no errors")
    explained = await explained_errors(client, [c["cell_id"] for c in report["cells"]], report)
    lines = [f"{report['total_errors']} error(s) in {report['total_cells_with_errors']} cell(s):"]
    lines += as_list(explained.values())
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


READ_TOOLS: tuple[ToolSpec[Any], ...] = (
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
        "Read cells' outputs as a person sees them: tables as columns, types and first "
        "rows; charts as kind, title, axes and series; errors as the exception and the "
        "cell's line; long output cut; stdout/stderr. Empty cell_ids: every cell.",
        SomeCellsArgs,
        Tier.READ,
        get_outputs,
    ),
    ToolSpec(
        "get_notebook_errors",
        "Every error in the notebook: per cell, the exception, its message, the line of "
        "the cell that raised it, and what it most likely means (e.g. a dataframe's "
        "columns and the closest one for a KeyError).",
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
)
