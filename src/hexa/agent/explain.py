"""The reads that put cell outputs in context: what each chart shows, and what each error
most likely means (the dataframe's columns for a KeyError, the missing import for a
NameError). The tools that show outputs and errors call these; a failed read costs the
model the extra sentences, never the output itself."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from hexa.agent.chart_text import CHART_TYPES, describe_charts
from hexa.agent.error_hints import hints
from hexa.agent.outputs import IMAGE_TYPES
from hexa.agent.tracebacks import CellError
from hexa.marimo.errors import MarimoError
from hexa.marimo.models import CellOutputs
from hexa.marimo.protocol import NotebookClient

logger = logging.getLogger(__name__)

CHART_TIMEOUT = 10.0  # seconds for the kernel to describe a cell's charts
_LOOKUPS = frozenset({"KeyError", "AttributeError", "NameError"})
_BUSY = frozenset({"running", "queued"})


def shows_image(cell: CellOutputs) -> bool:
    visual = cell.get("visual_output") or {}
    kind = (visual.get("visual_mimetype") or "").lower()
    data = visual.get("visual_output") or ""
    if kind.startswith("image/"):
        return True
    return kind == "application/vnd.marimo+mimebundle" and any(t in data for t in IMAGE_TYPES)


async def chart_notes(client: NotebookClient, cells: Sequence[CellOutputs]) -> dict[str, list[str]]:
    """Cell id -> what the charts it defines show, for the cells whose output is an image.

    The description runs in the kernel (code mode), which would queue behind a running
    cell, and giving up on a queued call interrupts the kernel: so only when none runs."""
    showing = [c["cell_id"] for c in cells if shows_image(c)]
    if not showing:
        return {}
    try:
        held = {
            d["cell_id"]: [
                name
                for name, var in (d.get("variables") or {}).items()
                if (var.get("datatype") or "") in CHART_TYPES
            ]
            for d in await client.cell_runtime_data(showing)
        }
        names = [n for found in held.values() for n in found]
        if not names or await _busy(client):
            return {}
        charts = await client.describe_charts(names, timeout=CHART_TIMEOUT)
    except MarimoError as exc:
        logger.info("charts not described: %s", exc.message)
        return {}
    return {
        cell_id: describe_charts({n: charts[n] for n in found if n in charts})
        for cell_id, found in held.items()
    }


async def _busy(client: NotebookClient) -> bool:
    cells = (await client.cell_map(1))["cells"]
    return any((c.get("runtime_state") or "") in _BUSY for c in cells)


async def error_hints(client: NotebookClient, errors: Iterable[CellError]) -> dict[str, list[str]]:
    """Cell id -> sentences explaining its errors, looking up the notebook's dataframes
    and names only when an error needs them."""
    errors = list(errors)
    columns: dict[str, list[str]] = {}
    names: list[str] = []
    if any(e.exception in _LOOKUPS for e in errors):
        try:
            found = await client.tables_and_variables()
        except MarimoError as exc:
            logger.info("no variables for error hints: %s", exc.message)
        else:
            columns = {
                name: [str(c.get("name")) for c in table.get("columns") or []]
                for name, table in found["tables"].items()
            }
            names = [*found["variables"], *found["tables"]]
    out: dict[str, list[str]] = {}
    for error in errors:
        said = hints(error, columns, names)
        if said:
            out.setdefault(error.cell_id, []).extend(said)
    return out
