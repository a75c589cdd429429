"""The editor's saves, rebased on marimo's document so they never take back a change.

marimo's editor saves (every second after an edit: autosave) by posting its whole cell list
to `api/kernel/save`, and marimo makes its document and the file match that list: cells
missing from it are deleted, cells only in it come back, its code wins. Right before it
builds that list the editor flushes its own edits to the document (`api/document/
transaction`), so the list differs from the document only where the editor has not yet
heard of a change made elsewhere: a code-mode batch of the agent or of the API that landed
a moment before. Sent as it is, such a save deletes the cell the agent just added (or
brings back one it deleted) until the editor hears of the change and saves again, and
whatever reads the notebook meanwhile (undo, the agent's next step) sees the wrong cells.

So Hexa sends marimo's document instead: the cells in its order with its code and names.
The save still writes the file; the editor's cell configs (hide code, disabled, column)
are kept for the cells it knows, the others get marimo's defaults.

One case goes through as it is: after one of the editor's document transactions failed
through the proxy, the editor puts what never reached the document in its next save.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

from hexa.errors import HexaError
from hexa.marimo.errors import MarimoError
from hexa.marimo.protocol import NotebookClient
from hexa.notebooks.cell_states import CellState, read_state

logger = logging.getLogger(__name__)

SAVE_PATH = "api/kernel/save"
TRANSACTION_PATH = "api/document/transaction"
# The document read waits for the kernel only a moment after another request made a cell
# (see cell_states); a save is never held longer than this: it then goes as it is.
READ_TIMEOUT = 3.0


def rebase(body: bytes, document: Sequence[CellState]) -> bytes | None:
    """The save `body` with the document's cells; None when it is not a save marimo would
    take (left for marimo to refuse)."""
    try:
        save: Any = json.loads(body)
    except ValueError:
        return None
    if not isinstance(save, dict):
        return None
    ids, configs = save.get("cellIds"), save.get("configs")
    if not (isinstance(ids, list) and isinstance(configs, list) and len(ids) == len(configs)):
        return None
    if not all(isinstance(i, str) for i in ids):
        return None
    known = dict(zip(ids, configs, strict=True))
    save["cellIds"] = [c.cell_id for c in document]
    save["codes"] = [c.code for c in document]
    save["names"] = [c.name or "_" for c in document]
    save["configs"] = [known.get(c.cell_id, {}) for c in document]
    return json.dumps(save).encode()


class EditorSaves:
    """Rebases the editor's saves (see the module doc); one per Hexa process."""

    def __init__(self) -> None:
        self._unsynced: set[str] = set()  # notebooks whose editor lost a transaction

    def answered(self, notebook_id: str, path: str, status: int | None) -> None:
        """The proxy's answer to a request of the editor (None: it got none)."""
        if path == TRANSACTION_PATH and (status is None or status >= 400):
            self._unsynced.add(notebook_id)

    async def body(self, notebook_id: str, body: bytes, client: NotebookClient) -> bytes | None:
        """What to send marimo for the editor's save `body`: rebased, or None for as is."""
        if notebook_id in self._unsynced:
            self._unsynced.discard(notebook_id)
            return None
        try:
            async with asyncio.timeout(READ_TIMEOUT):
                document = await read_state(client)
        except (MarimoError, HexaError, TimeoutError) as exc:
            logger.info("editor save of %s sent as it is: %r", notebook_id, exc)
            return None
        return rebase(body, document)
