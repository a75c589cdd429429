"""Bounded waits on marimo runs, and the runs that outlive them.

A code-mode request returns when the cells it runs have finished, which may be never.
Hanging up on it would make marimo interrupt the kernel, so a tool does not cancel it: it
waits `run_wait` seconds, then tells the model "still running" and leaves the request to
finish in the background, where `BackgroundRuns` keeps it (and reports its end on the
notebook's event stream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The hard deadline of a run left in the background; past it the client hangs up and
# marimo interrupts the kernel. Long enough for real work, short enough to end.
LONG_RUN_LIMIT = 3600.0


@dataclass(frozen=True)
class Finished(Generic[T]):
    value: T


@dataclass(frozen=True)
class StillRunning:
    waited: float


class BackgroundRunner:
    """Holds runs that outlived their wait until they end, then calls `on_done`."""

    def __init__(self, on_done: Callable[[str, str, BaseException | None], None]) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._on_done = on_done

    def keep(self, notebook_id: str, label: str, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            error = None if finished.cancelled() else finished.exception()
            if error is not None:
                logger.info("background run %s on %s ended with %r", label, notebook_id, error)
            self._on_done(notebook_id, label, error)

        task.add_done_callback(done)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def close(self, timeout: float = 5.0) -> None:
        """At shutdown: cancel what is left (marimo interrupts those runs)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)


async def bounded(
    work: Coroutine[Any, Any, T],
    *,
    wait: float,
    keep: Callable[[asyncio.Task[T]], None],
) -> Finished[T] | StillRunning:
    """`work`'s result if it ends within `wait` seconds (its exception is raised), else
    StillRunning, and the task is handed to `keep`."""
    task = asyncio.ensure_future(work)
    try:
        done, _ = await asyncio.wait({task}, timeout=wait)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if task in done:
        return Finished(task.result())
    keep(task)
    return StillRunning(wait)


async def settle(work: Awaitable[T], timeout: float) -> T:
    """`work` within `timeout` seconds, else TimeoutError: for reads, which are cheap."""
    async with asyncio.timeout(timeout):
        return await work
