"""The agent's instructions: who it is, marimo's own rules, and the notebook as it is now.

Built once per turn (they are not stored in the history, so each turn sees the current
map). marimo's rules are the same for every notebook of the pinned marimo: fetched once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from hexa.agent.outputs import clip
from hexa.marimo.errors import MarimoError
from hexa.marimo.protocol import NotebookClient

logger = logging.getLogger(__name__)

READ_TIMEOUT = 10.0  # seconds for each read that goes into the instructions
MAP_CELLS = 80  # cells listed in the map; the model can ask for the rest
SELECTED_CODE = 4000  # characters of each selected cell's code

ROLE = """\
You are Hexa's notebook agent. You work inside the person's marimo notebooks, beside them: \
you read cells, outputs, errors and variables, and you add, edit, move and run cells with \
your tools. Your changes show at once in the person's editor and are saved to the file.

- This chat belongs to notebook `{notebook_id}`. Every tool takes `notebook_id`; leave it \
out for this notebook, or name another of the person's notebooks.
- Read before you change: cell ids come from get_notebook_map. Each name may be defined \
in one cell only (marimo is reactive: a cell re-runs when what it uses changes).
- Destructive tools (delete_cells, clear_outputs, restart_kernel, replace_notebook) wait \
for the person's approval: call them directly, don't ask in text first. If the person \
rejects a call, don't repeat it; say what you did and ask what they want.
- A run waits up to {run_wait:g}s; if a tool says it is still running, check the cells' \
state later instead of running them again.
- Answer briefly and refer to cells by id."""


class RulesCache:
    """marimo's `get_marimo_rules` text, fetched from the first notebook that answers."""

    def __init__(self) -> None:
        self._rules: str | None = None
        self._lock = asyncio.Lock()

    async def get(self, client: NotebookClient) -> str:
        if self._rules is not None:
            return self._rules
        async with self._lock:
            if self._rules is None:
                try:
                    async with asyncio.timeout(READ_TIMEOUT):
                        self._rules = await client.marimo_rules()
                except (MarimoError, TimeoutError) as exc:
                    logger.info("marimo rules unavailable: %s", exc)
                    return ""  # not cached: the next turn tries again
            return self._rules


async def notebook_map(client: NotebookClient) -> str:
    """A compact map: one line per cell (id, state, first line)."""
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            cell_map = await client.cell_map(1)
    except (MarimoError, TimeoutError) as exc:
        return f"(the map is unavailable right now: {exc})"
    cells = cell_map["cells"]
    lines = []
    for cell in cells[:MAP_CELLS]:
        state = cell.get("runtime_state") or "not run"
        if cell.get("has_errors"):
            state += ", error"
        preview = clip(cell.get("preview", "").strip(), 100) or "(empty)"
        lines.append(f"- `{cell['cell_id']}` [{state}] {preview}")
    if len(cells) > MAP_CELLS:
        lines.append(f"- ... and {len(cells) - MAP_CELLS} more cells (get_notebook_map)")
    return "\n".join(lines) if lines else "(no cells yet)"


async def selected_cells(client: NotebookClient, cell_ids: Sequence[str]) -> str:
    if not cell_ids:
        return ""
    try:
        async with asyncio.timeout(READ_TIMEOUT):
            data = await client.cell_runtime_data(list(cell_ids))
    except (MarimoError, TimeoutError) as exc:
        return "The person selected cells " + ", ".join(cell_ids) + f" ({exc})."
    blocks = [
        f"cell `{d['cell_id']}`:\n```python\n{clip(d.get('code') or '', SELECTED_CODE)}\n```"
        for d in data
    ]
    return "\n".join(blocks)


async def instructions(
    *,
    notebook_id: str,
    client: NotebookClient,
    rules: RulesCache,
    run_wait: float,
    selected: Sequence[str] = (),
) -> str:
    rules_text, map_text, selection = await asyncio.gather(
        rules.get(client), notebook_map(client), selected_cells(client, selected)
    )
    parts = [ROLE.format(notebook_id=notebook_id, run_wait=run_wait)]
    parts.append(f"## Notebook `{notebook_id}` now\n{map_text}")
    if selection:
        parts.append(
            "## Cells the person has selected\n"
            f"They probably mean these when they say 'this' or 'these':\n{selection}"
        )
    if rules_text:
        parts.append(f"## marimo's rules for notebook code\n{rules_text}")
    return "\n\n".join(parts)
