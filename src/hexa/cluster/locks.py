"""One agent turn at a time per notebook across replicas: PostgreSQL advisory locks.

The lock is a session lock on a connection of its own, held for the turn: if the replica
dies, PostgreSQL ends the session and the lock with it, so a crash never leaves a notebook
locked. On SQLite there is one replica and the in-process lock is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Protocol

import asyncpg  # type: ignore[import-untyped]  # no stubs; its calls here are few

POLL = 0.1


class SharedLocks(Protocol):
    def hold(self, name: str, wait: float) -> contextlib.AbstractAsyncContextManager[bool]:
        """Enter with True once held, or False when another holder kept it `wait` seconds."""
        ...


class PgAdvisoryLocks:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn

    @contextlib.asynccontextmanager
    async def hold(self, name: str, wait: float) -> AsyncIterator[bool]:
        key = int.from_bytes(
            hashlib.sha256(f"hexa:{name}".encode()).digest()[:8], "big", signed=True
        )
        conn = await asyncpg.connect(self._dsn)
        try:
            deadline = time.monotonic() + wait
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
                if time.monotonic() >= deadline:
                    yield False
                    return
                await asyncio.sleep(POLL)
            yield True
        finally:
            # Closing the session releases the lock.
            await conn.close()
