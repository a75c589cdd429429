"""Recent code-mode changes per notebook, so that an editor's save cannot take them back
(what is mended and why: `hexa.marimo.saves`).

Each replica keeps the changes of the last `WINDOW` seconds: its own batches' as their
interpreter reports them, and, through the relay, those of the other replicas (the batch,
the editor's WebSocket and its save may each go through a different replica). Likewise,
an editor's write to a cell reported here spares that cell of the records known then, on
every replica.

The window bounds how late a save may be and still be mended: marimo's editor hears of a
change within milliseconds and saves a second after an edit, so a save built before it
heard arrives well inside it. A later save without the change is the person's.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hexa.marimo.errors import MarimoError
from hexa.marimo.saves import SAVE_PATH, WRITE_PATHS, Applied, mend, touches

logger = logging.getLogger(__name__)

WINDOW = 10.0

Send = Callable[[str, str], None]  # (notebook_id, message as JSON) to the other replicas


@dataclass
class _Record:
    key: str
    applied: Applied
    seen: float
    spared: set[str] = field(default_factory=set)


class EditorSaves:
    """One per Hexa process: what each notebook's recent batches changed."""

    def __init__(
        self, *, window: float = WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._recent: dict[str, list[_Record]] = {}
        self._send: Send | None = None

    def share(self, send: Send) -> None:
        """Tell the other replicas through `send` (the relay) from now on."""
        self._send = send

    def applied(self, notebook_id: str, applied: Applied) -> None:
        """A batch made here was applied."""
        record = _Record(secrets.token_hex(8), applied, self._clock())
        self._add(notebook_id, record)
        self._publish(notebook_id, {"applied": applied.to_json(), "key": record.key})

    def forget(self, notebook_id: str) -> None:
        """The notebook's marimo is another one now: its cells have other ids."""
        self._recent.pop(notebook_id, None)

    def editor_request(self, notebook_id: str, path: str, body: bytes) -> bytes:
        """What to send marimo for an editor's POST to `path` with `body`: a save mended,
        anything else as it is (a write to a cell spares it from mending)."""
        if path == SAVE_PATH:
            return self._mend(notebook_id, body)
        if path in WRITE_PATHS:
            self._spare(notebook_id, touches(path, body))
        return body

    def received(self, notebook_id: str, text: str) -> None:
        """A message another replica's `_publish` sent."""
        try:
            message = json.loads(text)
            if "applied" in message:
                applied = Applied.from_json(message["applied"])
                self._add(notebook_id, _Record(str(message["key"]), applied, self._clock()))
            for key, cells in dict(message.get("spared") or {}).items():
                for record in self._live(notebook_id):
                    if record.key == key:
                        record.spared.update(str(c) for c in cells)
        except (ValueError, TypeError, KeyError, AttributeError, MarimoError) as exc:
            logger.warning("changes from another replica could not be read: %r", exc)

    def _mend(self, notebook_id: str, body: bytes) -> bytes:
        records = self._live(notebook_id)
        if not records:
            return body
        mended = mend(body, [(r.applied, r.spared) for r in records])
        if mended is None:
            return body
        logger.info(
            "an editor's save of %s predates changes it had not heard of: %s",
            notebook_id,
            ", ".join(mended[1]),
        )
        return mended[0]

    def _spare(self, notebook_id: str, cells: frozenset[str]) -> None:
        if not cells:
            return
        spared: dict[str, list[str]] = {}
        for record in self._live(notebook_id):
            hit = cells & record.applied.cells
            if hit - record.spared:
                record.spared |= hit
                spared[record.key] = sorted(hit)
        if spared:
            self._publish(notebook_id, {"spared": spared})

    def _add(self, notebook_id: str, record: _Record) -> None:
        for other in list(self._recent):  # drops what is past the window, everywhere
            self._live(other)
        self._recent.setdefault(notebook_id, []).append(record)

    def _live(self, notebook_id: str) -> list[_Record]:
        records = self._recent.get(notebook_id)
        if records is None:
            return []
        since = self._clock() - self._window
        if records[0].seen < since:
            records[:] = [r for r in records if r.seen >= since]
            if not records:
                del self._recent[notebook_id]
        return records

    def _publish(self, notebook_id: str, message: dict[str, object]) -> None:
        if self._send is not None:
            self._send(notebook_id, json.dumps(message))
