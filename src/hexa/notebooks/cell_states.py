"""A notebook's cells in order with their code and name, read through marimo's tool
endpoints: the server's document, no kernel round trip, so the read neither waits behind
nor disturbs a running cell (the API's edits and the agent's undo both plan from it).
Only in the moment after another request made a cell is the kernel asked instead."""

from __future__ import annotations

import asyncio

from hexa.marimo.errors import MarimoError
from hexa.marimo.models import CellState
from hexa.marimo.protocol import NotebookClient

__all__ = ["CellState", "read_state"]


async def read_state(client: NotebookClient) -> list[CellState]:
    """The notebook's cells in order with code and name."""
    try:
        data, graph = await asyncio.gather(client.cell_runtime_data([]), client.dependency_graph())
    except MarimoError as exc:
        if exc.code != "CELL_NOTIFICATION_NOT_FOUND":
            raise
        # A cell made a moment ago (by another request) is in the document before its
        # first notification reaches the server, whose tools then fail; the kernel, which
        # runs one batch at a time, has it settled.
        settled = await client.read_cells(max_output_chars=0)
        return [CellState(c.cell_id, c.name, c.code) for c in settled]
    names = {c["cell_id"]: c.get("cell_name") for c in graph["cells"]}
    cells = []
    for d in data:
        name = names.get(d["cell_id"])
        cells.append(
            CellState(d["cell_id"], None if name in (None, "", "_") else name, d.get("code") or "")
        )
    return cells
