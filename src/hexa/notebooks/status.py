"""Each notebook's run state as it changes: stored (so the list survives a restart of Hexa)
and pushed to the notebook's listeners as a `notebook_status` event."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hexa.live import EventBus, NotebookStatusChanged
from hexa.runtime.supervisor import ManagedProcess, Supervisor
from hexa.store import NotebookRepository, NotebookStatus

logger = logging.getLogger(__name__)


class StatusRecorder:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], supervisor: Supervisor, bus: EventBus
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._writes: set[asyncio.Task[None]] = set()
        supervisor.on_state_change(self._changed)

    def _changed(self, nb: ManagedProcess) -> None:
        status = NotebookStatus(nb.state.value)
        self._bus.publish(
            nb.notebook_id, NotebookStatusChanged(status=status.value, detail=nb.reason)
        )
        task = asyncio.get_running_loop().create_task(
            self._write(nb.notebook_id, status, nb.reason)
        )
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write(self, notebook_id: str, status: NotebookStatus, reason: str | None) -> None:
        try:
            async with self._sessions.begin() as session:
                await NotebookRepository(session).set_status(
                    notebook_id, status, failure_reason=reason
                )
        except Exception:
            logger.exception("could not record the state of notebook %s", notebook_id)

    async def drain(self) -> None:
        """Wait for pending status writes (at shutdown, before the engine closes)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
