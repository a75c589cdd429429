"""marimo's own notifications for a notebook, relayed onto the event bus while anyone listens.

One read-only viewer WebSocket per notebook (marimo's `kiosk` mode, which never takes the
editor role from the person), opened when the first listener attaches and closed when the
last one leaves. It follows the notebook through restarts by reconnecting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hexa.agent.events import MarimoNotification
from hexa.agent.registry import NotebookAccess
from hexa.live import EventBus
from hexa.users import Principal

logger = logging.getLogger(__name__)

RETRY_MIN = 0.5
RETRY_MAX = 5.0


class MarimoRelay:
    def __init__(self, bus: EventBus, notebooks: NotebookAccess) -> None:
        self._bus = bus
        self._notebooks = notebooks
        self._listeners: dict[str, int] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def attach(self, user: Principal, notebook_id: str) -> Callable[[], None]:
        """Start relaying (if not yet); call the returned function to stop listening."""
        self._listeners[notebook_id] = self._listeners.get(notebook_id, 0) + 1
        if notebook_id not in self._tasks:
            self._tasks[notebook_id] = asyncio.create_task(
                self._pump(user, notebook_id), name=f"marimo-relay-{notebook_id}"
            )
        released = False

        def detach() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._listeners.get(notebook_id, 1) - 1
            if left > 0:
                self._listeners[notebook_id] = left
                return
            self._listeners.pop(notebook_id, None)
            task = self._tasks.pop(notebook_id, None)
            if task is not None:
                task.cancel()

        return detach

    async def _pump(self, user: Principal, notebook_id: str) -> None:
        delay = RETRY_MIN
        while True:
            try:
                view = await self._notebooks.get(user, notebook_id)
                if view.status == "running":
                    client = (await self._notebooks.running(user, notebook_id)).client
                    frames = client.events(kiosk=True)
                    try:
                        delay = RETRY_MIN
                        async for frame in frames:
                            self._bus.publish(
                                notebook_id,
                                MarimoNotification(op=frame["op"], data=frame["data"]),
                            )
                    finally:
                        # An async generator: close it so the viewer socket closes now.
                        close = getattr(frames, "aclose", None)
                        if close is not None:
                            await close()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # marimo restarting, stopped, or gone: try again later
                logger.debug("marimo relay for %s: %s", notebook_id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        self._listeners.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
