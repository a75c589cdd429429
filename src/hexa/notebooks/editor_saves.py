"""Recent code-mode changes per notebook, so that an editor's save cannot take them back
(what is mended and why: `hexa.marimo.saves`).

Each replica keeps the changes of the last `WINDOW` seconds: its own batches' as their
interpreter reports them, and, through the relay, those of the other replicas (the batch,
the editor's WebSocket and its save may each go through a different replica). Records
are kept per marimo (its address and session): a restarted marimo's cells have other ids.
An editor's write spares what it writes from the records known then, on every replica: the
write waits (briefly) until the relay has sent that, because the editor sends its save
right after its writes are answered, and the save may go through another replica.

A save that comes while one of this replica's batches on the same marimo is under way
waits (a quarter of a second at most) for that batch's record: marimo may apply the batch
between the proxy's look at the records and the save's arrival. (A batch another replica
makes has no such hold: its record comes through the relay, a moment after marimo applied
it.)

The window bounds how late a save may be and still be mended: marimo's editor hears of a
change within milliseconds and saves a second after an edit, so a save built before it
heard arrives well inside it. A later save without the change is the person's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from hexa.marimo.errors import MarimoError
from hexa.marimo.saves import SAVE_PATH, WRITE_PATHS, Applied, Part, mend, touches

logger = logging.getLogger(__name__)

WINDOW = 10.0
# How long an editor's write waits for the relay to have sent what it spares.
SHARE_WAIT = 1.0
# How long a save waits for batches under way. marimo applies a batch within milliseconds
# of starting it; one queued behind a long run in the kernel is not waited for longer,
# and meanwhile the editor's own next writes (not held) could overtake the held save.
BATCH_WAIT = 0.25

# (notebook_id, message as JSON) to the other replicas; done once sent.
Send = Callable[[str, str], Awaitable[None]]


@dataclass
class _Record:
    key: str
    marimo: str  # which marimo applied it (see `marimo_id`)
    applied: Applied
    seen: float
    spared: set[Part] = field(default_factory=set)


def marimo_id(origin: str, base_path: str, session_id: str) -> str:
    """One marimo session of a notebook, named alike on every replica."""
    return f"{origin}{base_path}#{session_id}"


class EditorSaves:
    """One per Hexa process: what each notebook's recent batches changed."""

    def __init__(
        self, *, window: float = WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._recent: dict[str, list[_Record]] = {}
        self._under_way: dict[tuple[str, str], set[_Batch]] = {}
        self._send: Send | None = None

    def share(self, send: Send) -> None:
        """Tell the other replicas through `send` (the relay) from now on."""
        self._send = send

    def batch(self, notebook_id: str, marimo: str) -> _Batch:
        """A batch that may change cells is about to be sent to `marimo` from here."""
        batch = _Batch(self, notebook_id, marimo)
        self._under_way.setdefault((notebook_id, marimo), set()).add(batch)
        return batch

    def ended(self, batch: _Batch, notebook_id: str, marimo: str) -> None:
        """`batch` is no longer under way."""
        under_way = self._under_way.get((notebook_id, marimo))
        if under_way is not None:
            under_way.discard(batch)
            if not under_way:
                del self._under_way[notebook_id, marimo]

    def applied(self, notebook_id: str, marimo: str, applied: Applied) -> None:
        """A batch made here was applied by `marimo`."""
        record = _Record(secrets.token_hex(8), marimo, applied, self._clock())
        self._add(notebook_id, record)
        message = {"applied": applied.to_json(), "key": record.key, "marimo": marimo}
        self._publish(notebook_id, message)

    async def editor_request(self, notebook_id: str, marimo: str, path: str, body: bytes) -> bytes:
        """What to send `marimo` for an editor's POST to `path` with `body`: a save mended,
        anything else as it is (a write spares what it writes from mending)."""
        if path == SAVE_PATH and (under_way := self._under_way.get((notebook_id, marimo))):
            waits = [asyncio.ensure_future(b.done.wait()) for b in under_way]
            try:
                await asyncio.wait(waits, timeout=BATCH_WAIT)
            finally:
                for wait in waits:
                    wait.cancel()
        records = [r for r in self._live(notebook_id) if r.marimo == marimo]
        if not records:
            return body
        if path == SAVE_PATH:
            return self._mend(notebook_id, records, body)
        if path in WRITE_PATHS:
            await self._spare(notebook_id, records, touches(path, body))
        return body

    def received(self, notebook_id: str, text: str) -> None:
        """A message another replica's `_publish` sent."""
        try:
            message = json.loads(text)
            if "applied" in message:
                applied = Applied.from_json(message["applied"])
                key, marimo = str(message["key"]), str(message["marimo"])
                self._add(notebook_id, _Record(key, marimo, applied, self._clock()))
            for key, parts in dict(message.get("spared") or {}).items():
                for record in self._live(notebook_id):
                    if record.key == key:
                        record.spared.update((str(c), str(p)) for c, p in parts)
        except (ValueError, TypeError, KeyError, AttributeError, MarimoError) as exc:
            logger.warning("changes from another replica could not be read: %r", exc)

    def _mend(self, notebook_id: str, records: list[_Record], body: bytes) -> bytes:
        mended = mend(body, [(r.applied, r.spared) for r in records])
        if mended is None:
            return body
        logger.info(
            "an editor's save of %s predates changes it had not heard of: %s",
            notebook_id,
            ", ".join(mended[1]),
        )
        return mended[0]

    async def _spare(
        self, notebook_id: str, records: list[_Record], parts: frozenset[Part]
    ) -> None:
        spared: dict[str, list[Part]] = {}
        for record in records:
            hit = parts & record.applied.parts
            if hit - record.spared:
                record.spared |= hit
                spared[record.key] = sorted(hit)
        if not spared:
            return
        sent = self._publish(notebook_id, {"spared": spared})
        if sent is not None:
            try:
                await asyncio.wait_for(asyncio.shield(sent), SHARE_WAIT)
            except TimeoutError:
                logger.warning("the relay did not send an editor's write of %s", notebook_id)

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

    def _publish(self, notebook_id: str, message: Mapping[str, object]) -> Awaitable[None] | None:
        if self._send is None:
            return None
        return self._send(notebook_id, json.dumps(message))


class _Batch:
    """One of this replica's batches under way (see `EditorSaves.batch`)."""

    def __init__(self, saves: EditorSaves, notebook_id: str, marimo: str) -> None:
        self._saves, self._notebook_id, self._marimo = saves, notebook_id, marimo
        self.done = asyncio.Event()

    def applied(self, applied: Applied) -> None:
        self._saves.applied(self._notebook_id, self._marimo, applied)
        self.close()

    def close(self) -> None:
        if not self.done.is_set():
            self.done.set()
            self._saves.ended(self, self._notebook_id, self._marimo)
