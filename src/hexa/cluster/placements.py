"""Where each notebook runs, kept in the database so that any replica reaches any notebook.

A replica claims a notebook (a `runtimes` row) before it starts it, publishes marimo's
origin, token and session once it runs, and releases the claim when it stops. Another
replica that is asked for the notebook reaches it through what was published; when the
holder is gone (its heartbeat stale), the next use claims and starts it again from its
file. The supervisor's state changes are written in order, one notebook at a time.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.cluster.membership import Membership
from hexa.cluster.relay import Relay
from hexa.runtime.process import NotebookProcess
from hexa.runtime.supervisor import ManagedProcess, ProcessState
from hexa.store import NotebookRepository, RuntimeRepository, utcnow

logger = logging.getLogger(__name__)

# How long a replica waits for a notebook another replica is starting.
POLL = 0.1


@dataclass(frozen=True)
class Remote:
    """A notebook that runs on another replica, and how to reach its marimo."""

    notebook_id: str
    replica_id: str
    origin: str
    token: str
    session_id: str
    base_path: str  # marimo's base URL path (see hexa.proxy.upstream)
    file_key: str | None


class Placements:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        membership: Membership,
        *,
        sandbox: str,
        relay: Relay,
        touch_every: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._membership = membership
        self._relay = relay
        self._sandbox = sandbox
        self._touch_every = touch_every
        self._touched: dict[str, float] = {}
        self._writes: dict[str, asyncio.Task[None]] = {}

    @property
    def replica_id(self) -> str:
        return self._membership.replica_id

    async def reset(self) -> None:
        """At start: this replica's claims are its last run's, whose marimos are gone; a
        notebook still marked running is stale unless a live replica holds it."""
        live = await self._membership.live()
        async with self._sessions.begin() as session:
            released = await RuntimeRepository(session).release_all(self.replica_id)
            await NotebookRepository(session).reset_statuses(keep_held_by=live - {self.replica_id})
        if released:
            logger.info("released %d notebooks this replica ran before it restarted", released)

    async def remote(self, notebook_id: str) -> Remote | None:
        """The notebook's marimo on another live replica, if it runs there."""
        async with self._sessions() as session:
            held = await RuntimeRepository(session).get(notebook_id)
        if held is None or held.replica_id == self.replica_id:
            return None
        if held.replica_id not in await self._membership.live():
            return None
        if held.origin is None or held.token is None or held.session_id is None:
            return None
        base_path = held.base_path if held.base_path is not None else f"/nb/{notebook_id}"
        return Remote(
            notebook_id,
            held.replica_id,
            held.origin,
            held.token,
            held.session_id,
            base_path,
            held.file_key,
        )

    async def claim(self, notebook_id: str) -> str | None:
        """Claim the notebook for this replica; None when claimed, else the live replica
        that holds it (it is starting or running there)."""
        live = set(await self._membership.live())
        try:
            async with self._sessions.begin() as session:
                won = await RuntimeRepository(session).claim(
                    notebook_id, self.replica_id, self._sandbox, live=live
                )
                if won is not None:
                    return None
                held = await RuntimeRepository(session).get(notebook_id)
        except IntegrityError:
            # Another replica's first claim landed between our look-up and insert.
            async with self._sessions() as session:
                held = await RuntimeRepository(session).get(notebook_id)
        return held.replica_id if held is not None else self.replica_id

    async def wait_remote(self, notebook_id: str, timeout: float) -> Remote | None:
        """Wait for another replica to finish starting the notebook (None: it stopped, or
        its replica went, and the caller may claim it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self._sessions() as session:
                held = await RuntimeRepository(session).get(notebook_id)
            if held is None or held.replica_id not in await self._membership.live():
                return None
            found = await self.remote(notebook_id)
            if found is not None:
                return found
            await asyncio.sleep(POLL)
        return None

    async def stop_elsewhere(self, notebook_id: str, timeout: float) -> None:
        """Ask the live replica that runs the notebook (if another does) to stop it, and
        wait until it has (its claim released), at most `timeout` seconds."""
        holder = (await self.holders([notebook_id])).get(notebook_id)
        if holder is None or holder == self.replica_id:
            return
        self._relay.send_stop(holder, notebook_id)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if notebook_id not in await self.holders([notebook_id]):
                return
            await asyncio.sleep(POLL)
        logger.warning("replica %s did not stop notebook %s in time", holder, notebook_id)

    async def holders(self, notebook_ids: list[str]) -> dict[str, str]:
        """Which live replica holds each of these notebooks (absent: none does)."""
        async with self._sessions() as session:
            runtimes = await RuntimeRepository(session).for_notebooks(notebook_ids)
        live = await self._membership.live()
        return {nid: rt.replica_id for nid, rt in runtimes.items() if rt.replica_id in live}

    async def touch(self, notebook_id: str) -> None:
        """Use of a notebook through this replica, for its holder's idle cull (written at
        most every `touch_every` seconds per notebook)."""
        now = time.monotonic()
        if now - self._touched.get(notebook_id, float("-inf")) < self._touch_every:
            return
        self._touched[notebook_id] = now
        async with self._sessions.begin() as session:
            await RuntimeRepository(session).touch(notebook_id)

    async def idle_seconds(self, notebook_ids: list[str]) -> dict[str, float]:
        """Seconds since each notebook was last used through any replica."""
        async with self._sessions() as session:
            found = await RuntimeRepository(session).last_activity(notebook_ids)
        now = utcnow()
        return {nid: _seconds(now, at) for nid, at in found.items()}

    async def live_others(self) -> frozenset[str]:
        return await self._membership.live() - {self.replica_id}

    def record(self, nb: ManagedProcess) -> None:
        """The supervisor's state change: publish where it runs, or release the claim."""
        state, process = nb.state, nb.process
        if state is ProcessState.RUNNING and process is not None and nb.session_id is not None:
            write = self._publish(nb.notebook_id, process, nb.session_id)
        elif state in (ProcessState.STOPPED, ProcessState.FAILED):
            write = self._release(nb.notebook_id)
        else:
            return
        # In order per notebook: a release never overtakes the publish before it.
        before = self._writes.get(nb.notebook_id)
        task = asyncio.get_running_loop().create_task(_after(before, write))
        self._writes[nb.notebook_id] = task
        task.add_done_callback(functools.partial(self._forget, nb.notebook_id))

    def _forget(self, notebook_id: str, task: asyncio.Task[None]) -> None:
        if self._writes.get(notebook_id) is task:
            del self._writes[notebook_id]

    async def _publish(self, notebook_id: str, process: NotebookProcess, session_id: str) -> None:
        async with self._sessions.begin() as session:
            held = await RuntimeRepository(session).publish(
                notebook_id,
                self.replica_id,
                origin=process.origin,
                token=process.token,
                session_id=session_id,
                base_path=process.base_path,
                file_key=process.file_key,
            )
        if not held:
            logger.error("notebook %s runs here but its claim is another replica's", notebook_id)

    async def _release(self, notebook_id: str) -> None:
        async with self._sessions.begin() as session:
            await RuntimeRepository(session).release(notebook_id, self.replica_id)

    async def drain(self) -> None:
        """Wait for pending writes (at shutdown, before the engine closes)."""
        if self._writes:
            await asyncio.gather(*self._writes.values(), return_exceptions=True)


async def _after(before: asyncio.Task[None] | None, write: Coroutine[Any, Any, None]) -> None:
    if before is not None:
        await asyncio.gather(before, return_exceptions=True)
    try:
        await write
    except Exception:
        logger.exception("could not record where a notebook runs")


def _seconds(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())
