"""This replica's heartbeat, and which replicas are alive.

Every replica writes its heartbeat every `interval` seconds; one whose heartbeat is older
than `timeout` is gone: its notebooks may be claimed by another and its running turns
interrupted. A replica that stops cleanly deletes its row, so it is gone at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.store import ReplicaRepository

logger = logging.getLogger(__name__)


class Membership:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        replica_id: str,
        *,
        interval: float,
        timeout: float,
    ) -> None:
        self._sessions = sessions
        self.replica_id = replica_id
        self._interval = interval
        self.timeout = timeout
        self._task: asyncio.Task[None] | None = None
        # Who is alive, read at most every half interval: it sits on the proxy's path.
        self._live: tuple[float, frozenset[str]] = (float("-inf"), frozenset())

    async def start(self) -> None:
        await self._beat()
        self._task = asyncio.create_task(self._loop(), name="hexa-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with self._sessions.begin() as session:
                await ReplicaRepository(session).forget(self.replica_id)

    async def live(self) -> frozenset[str]:
        """The replicas alive now (this one always among them)."""
        read_at, live = self._live
        now = time.monotonic()
        if now - read_at > self._interval / 2:
            async with self._sessions() as session:
                found = await ReplicaRepository(session).live(self.timeout)
            live = frozenset(found | {self.replica_id})
            self._live = (now, live)
        return live

    async def _beat(self) -> None:
        async with self._sessions.begin() as session:
            await ReplicaRepository(session).beat(self.replica_id)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self._beat()
            except Exception:
                # A database blip must not end the heartbeat: the next beat tries again.
                logger.exception("heartbeat of replica %s failed", self.replica_id)
