"""The rows a running turn adds as it goes, written while it waits.

A turn adds rows before it ends: its own row and the person's message, then an audit entry
per tool call. Each transaction costs a few milliseconds of the event loop; written while
the turn waits (on the model, or on marimo running a call) that costs the turn nothing,
where written in its path it delays it.

So rows are queued per turn and written in order, everything pending in one transaction:
- at once, for a turn whose run waits on a model (each of its steps is a request);
- for a turn of a model that answers at once (the builtin), when it next calls a tool
  (the call then waits on marimo), and what is left with the turn's end, in the
  transaction the end writes anyway (`settle`, `written`).
Rows whose write fails are tried again in the turn's end transaction; rows still pending
when the turn closes without its end (an error) are written by `close`, alone: an audit
entry is never dropped with a failed end.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

logger = logging.getLogger(__name__)

Write = Callable[[AsyncSession], Awaitable[None]]  # adds rows to the caller's transaction


class TurnWrites:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: dict[str, list[Write]] = {}
        self._at_calls: set[str] = set()  # turns whose rows wait for a call or the end
        self._last: dict[str, asyncio.Task[None]] = {}  # the turn's last write under way

    def open(self, turn_id: str, first: Write, *, at_calls: bool) -> None:
        """A new turn, with its first rows; `at_calls`: its run answers at once, so rows
        wait for its next tool call or its end."""
        self._pending[turn_id] = []
        if at_calls:
            self._at_calls.add(turn_id)
        self.add(turn_id, first)

    def add(self, turn_id: str, write: Write) -> None:
        """Queue rows (of a turn not opened here, such as a resumed one: written at once)."""
        self._pending.setdefault(turn_id, []).append(write)
        if turn_id not in self._at_calls:
            self.write_now(turn_id)

    def write_now(self, turn_id: str) -> None:
        """Start writing what is pending, in one transaction, after the writes under way.
        Rows whose transaction fails go back to the head of the queue: the turn's end
        tries them again, in its own transaction."""
        batch = self._pending.get(turn_id)
        if not batch:
            return
        self._pending[turn_id] = []
        previous = self._last.get(turn_id)

        async def write() -> None:
            if previous is not None:
                await asyncio.wait([previous])  # in order
            try:
                async with self._sessions.begin() as session:
                    for rows in batch:
                        await rows(session)
            except BaseException:
                logger.warning("rows of turn %s not written yet", turn_id, exc_info=True)
                self._pending.setdefault(turn_id, [])[:0] = batch
                raise

        task = asyncio.create_task(write())
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # logged above
        self._last[turn_id] = task

    async def settle(self, turn_id: str) -> list[Write]:
        """Wait for the writes under way; the rows still pending (those that failed
        included), for the caller to write in its own transaction, then `written`."""
        last = self._last.get(turn_id)
        if last is not None:
            await asyncio.wait([last])
        return list(self._pending.get(turn_id, ()))

    def written(self, turn_id: str, rows: list[Write]) -> None:
        """The caller's transaction with `rows` (from `settle`) committed."""
        done = {id(r) for r in rows}
        self._pending[turn_id] = [r for r in self._pending.get(turn_id, ()) if id(r) not in done]

    async def close(self, turn_id: str) -> None:
        """The turn is over: write what is still pending (its end failed), then forget it."""
        self._at_calls.discard(turn_id)
        try:
            self.write_now(turn_id)
            last = self._last.get(turn_id)
            if last is not None:
                await asyncio.wait([last])
        finally:
            lost = self._pending.pop(turn_id, None)
            self._last.pop(turn_id, None)
            if lost:
                logger.error("%d rows of turn %s could not be written", len(lost), turn_id)
