"""How the notebook tools read and change cells.

Every change is one code-mode batch (`apply_ops`), so it shows in the person's editor and
is saved to the file; a batch that outlasts the bounded wait keeps running in the
background and the tool says so (`still_running`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hexa.agent.explain import chart_notes, error_hints, shows_image
from hexa.agent.outputs import (
    OUTPUT_LIMIT,
    cell_errors,
    describe_cell_outputs,
    describe_error,
)
from hexa.agent.registry import Image, ToolContext, ToolError, ToolOutcome
from hexa.agent.runs import LONG_RUN_LIMIT, Finished, StillRunning, bounded
from hexa.agent.tracebacks import CellError, read_errors
from hexa.agent.views import CellChange
from hexa.marimo.errors import CodeModeError, MarimoError
from hexa.marimo.models import ApplyResult, CellOutputs, NotebookErrors, Op
from hexa.marimo.protocol import NotebookClient

CODE_LIMIT = 8000  # characters of one cell's code shown to the model
MANY_OUTPUTS = 10  # past this many cells, a run reports errors rather than every output
IMAGES_GIVEN = 4  # images handed to a model that takes them, per call
IMAGE_BYTES = 2_000_000  # larger images are described, not handed over
_PASSED_AS_IMAGES = ("image/png", "image/jpeg", "image/webp", "image/gif")


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
    ctx.left.pop(notebook_id, None)
    result = await bounded(
        client.apply(
            ops,
            timeout=LONG_RUN_LIMIT,
            with_cells=True,
            on_before=ctx.before_hook(notebook_id),
        ),
        wait=ctx.run_wait,
        keep=lambda task: ctx.background.keep(notebook_id, label, task),
    )
    if isinstance(result, Finished) and result.value.cells is not None:
        ctx.left[notebook_id] = list(result.value.cells)
    return result


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


@dataclass(frozen=True)
class OutputsReport:
    text: str
    count: int  # cells reported
    images: tuple[Image, ...] = ()


async def outputs_report(
    client: NotebookClient,
    cell_ids: Sequence[str],
    *,
    limit: int | None = None,
    many: bool = False,
) -> OutputsReport:
    """Cells' outputs as the person sees them ([] with `many`: every cell), each headed
    by its id, with what its charts show and what its errors mean, and its images."""
    if not cell_ids and not many:
        return OutputsReport("", 0)
    try:
        cells = await client.cell_outputs(list(cell_ids))
    except MarimoError as exc:
        return OutputsReport(f"(outputs unavailable: {exc.message})", 0)
    size = limit or (OUTPUT_LIMIT if len(cells) <= MANY_OUTPUTS else 400)
    errors = {c["cell_id"]: found for c in cells if (found := cell_errors(c)) is not None}
    hints = await error_hints(client, (e for found in errors.values() for e in found))
    charts = await chart_notes(client, cells)
    shown = [
        describe_cell_outputs(
            c, size, charts=charts.get(c["cell_id"], ()), hints=hints.get(c["cell_id"], ())
        )
        for c in cells
    ]
    if len(cells) == 1 and not many:
        text = shown[0]
    else:
        pairs = zip(cells, shown, strict=True)
        text = "\n\n".join(f"cell `{c['cell_id']}`:\n{s}" for c, s in pairs)
    images = [i for c in cells if shows_image(c) for i in _images(c)]
    return OutputsReport(text, len(cells), tuple(images[:IMAGES_GIVEN]))


def _images(cell: CellOutputs) -> list[Image]:
    """The images a cell shows, decoded (for models that take images)."""
    visual = cell.get("visual_output") or {}
    kind = (visual.get("visual_mimetype") or "").lower()
    data = visual.get("visual_output") or ""
    urls: dict[str, str] = {}
    if kind == "application/vnd.marimo+mimebundle":
        try:
            bundle = json.loads(data)
        except ValueError:
            return []
        if isinstance(bundle, dict):
            urls = {
                k: v for k, v in bundle.items() if k in _PASSED_AS_IMAGES and isinstance(v, str)
            }
    elif kind in _PASSED_AS_IMAGES:
        urls = {kind: data}
    found = []
    for media_type, url in urls.items():
        payload = url.partition(";base64,")[2] if url.startswith("data:") else url
        try:
            raw = base64.b64decode(payload, validate=False)
        except ValueError:
            continue
        if 0 < len(raw) <= IMAGE_BYTES:
            found.append(Image(media_type, raw))
    return found


async def outputs_text(client: NotebookClient, cell_ids: Sequence[str], limit: int = 2000) -> str:
    return (await outputs_report(client, cell_ids, limit=limit)).text


async def explained_errors(
    client: NotebookClient, cell_ids: Sequence[str], report: NotebookErrors | None = None
) -> dict[str, str]:
    """Cell id -> its errors as the exception, the cell's line and what they likely mean."""
    report = report if report is not None else await client.notebook_errors()
    wanted = set(cell_ids)
    cells = [c for c in report["cells"] if c["cell_id"] in wanted]
    try:
        codes = await cell_codes(client, [c["cell_id"] for c in cells])
    except MarimoError:
        codes = {}
    errors: dict[str, list[CellError]] = {
        c["cell_id"]: read_errors(
            c["cell_id"], c["errors"], "".join(c.get("stderr") or []), codes.get(c["cell_id"])
        )
        for c in cells
    }
    hints = await error_hints(client, (e for found in errors.values() for e in found))
    return {
        cid: "\n".join(describe_error(e) for e in found)
        + "".join(f"\n{h}" for h in hints.get(cid, ()))
        for cid, found in errors.items()
    }


def as_list(texts: Iterable[str]) -> list[str]:
    """Texts as Markdown list items, their further lines indented under them."""
    return [f"- {t}".replace("\n", "\n  ") for t in texts]


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
