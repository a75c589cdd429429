"""Warm spares: one marimo per person, started before their next notebook is opened.

A spare is the person's own sandboxed marimo (same jail, same uid and limits as their
notebooks), serving their folder with no notebook open yet. Opening a notebook claims it:
only the session, and so the kernel, is left to start, which is most of the wait saved
(bench/open_latency.py). The supervisor refills a person's spare after each open while
the caps leave room, and counts spares against `max_processes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from hexa.runtime.process import NotebookProcess, OwnerSpec, SpareProcess, SpareSpawner

logger = logging.getLogger(__name__)


class Readiness(Protocol):
    async def wait_healthy(self, process: NotebookProcess, timeout: float) -> None: ...


class Spares:
    """At most one spare per owner: ready, or being started."""

    def __init__(
        self,
        spawner: SpareSpawner,
        readiness: Readiness,
        *,
        start_timeout: float,
        stop_timeout: float,
    ) -> None:
        self._spawner = spawner
        self._readiness = readiness
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._ready: dict[int, SpareProcess] = {}
        self._filling: dict[int, asyncio.Task[None]] = {}
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()
        self._promised: set[int] = set()  # owners whose starting spare an open waits for
        self.changed = asyncio.Event()  # set whenever a spare becomes ready or goes

    def count(self, *, besides: int | None = None) -> int:
        """Spares ready or starting (those of `besides` not counted)."""
        return len(self.owners() - {besides})

    def owners(self) -> set[int]:
        return set(self._ready.keys() | self._filling.keys())

    def ready(self, owner_id: int) -> bool:
        return owner_id in self._ready

    def peek(self, owner_id: int) -> SpareProcess | None:
        """The owner's ready spare, left where it is (to look at, e.g. its memory)."""
        return self._ready.get(owner_id)

    def promised(self, owner_id: int) -> bool:
        """An open waits for the owner's spare to finish starting."""
        return owner_id in self._promised

    async def take(self, owner_id: int) -> SpareProcess | None:
        """The owner's spare, now the caller's to claim and stop; one still starting is
        waited for (it started before this open did). None when there is none."""
        filling = self._filling.get(owner_id)
        if filling is not None:
            if owner_id in self._promised:
                return None  # another open of theirs waits for it already: start cold
            self._promised.add(owner_id)
            try:
                # Waited for, never awaited: neither an open given up on takes the spare
                # down, nor a spare dropped meanwhile (its person's last notebook closed,
                # another's open at the cap) the open.
                await asyncio.wait({filling})
            finally:
                self._promised.discard(owner_id)
        spare = self._ready.pop(owner_id, None)
        if spare is None:
            return None
        self._changed()
        if spare.returncode() is not None:
            logger.warning(
                "the spare of user %s had exited (code %s)", owner_id, spare.returncode()
            )
            self._stop_later(spare)
            return None
        return spare

    def fill(self, owner: OwnerSpec) -> None:
        """Start the owner's spare in the background, unless one is ready or starting."""
        if self._closed or owner.owner_id in self._ready or owner.owner_id in self._filling:
            return
        task = asyncio.create_task(self._fill(owner), name=f"spare-{owner.owner_id}")
        self._filling[owner.owner_id] = task
        task.add_done_callback(lambda done: self._forget(owner.owner_id, done))

    async def drop(self, owner_id: int) -> bool:
        """Stop the owner's spare, ready or starting; False when there was none."""
        task = self._filling.pop(owner_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        spare = self._ready.pop(owner_id, None)
        if spare is not None:
            self._changed()
            await spare.stop(self._stop_timeout)
        return task is not None or spare is not None

    async def drop_other(self, keep: int | None) -> bool:
        """Stop one spare not of owner `keep` (a ready one first) to free its slot."""
        others = [o for o in self._ready if o != keep] or [o for o in self._filling if o != keep]
        return bool(others) and await self.drop(others[0])

    async def close(self) -> None:
        self._closed = True
        for owner_id in self.owners():
            await self.drop(owner_id)
        if self._stopping:
            await asyncio.gather(*self._stopping, return_exceptions=True)

    def _forget(self, owner_id: int, task: asyncio.Task[None] | None) -> None:
        if task is not None and self._filling.get(owner_id) is task:
            del self._filling[owner_id]

    async def _fill(self, owner: OwnerSpec) -> None:
        try:
            await self._start(owner)
        finally:
            # Now, not when the done callback runs: a spare is ready or starting, never both.
            self._forget(owner.owner_id, asyncio.current_task())

    async def _start(self, owner: OwnerSpec) -> None:
        # Shielded: a drop while the process is being made must still stop what was made.
        spawning = asyncio.ensure_future(self._spawner.spawn_spare(owner))
        try:
            spare = await asyncio.shield(spawning)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await (await spawning).stop(self._stop_timeout)
            raise
        except Exception:
            logger.exception("could not start a spare for %s", owner.owner)
            return
        try:
            await self._readiness.wait_healthy(spare, self._start_timeout)
        except BaseException as exc:
            await spare.stop(self._stop_timeout)
            if not isinstance(exc, Exception):
                raise  # cancelled: dropped, or Hexa shuts down
            logger.warning(
                "the spare of %s did not start: %r\n%s", owner.owner, exc, spare.log_tail(8)
            )
            return
        if self._closed:
            await spare.stop(self._stop_timeout)
            return
        self._ready[owner.owner_id] = spare
        self._changed()
        logger.info("a spare is ready for %s", owner.owner)

    def _stop_later(self, spare: SpareProcess) -> None:
        task = asyncio.create_task(spare.stop(self._stop_timeout), name="stop-spare")
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()
