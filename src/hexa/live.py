"""The in-process event bus: what happens in a notebook, as it happens, to its listeners.

Events are pydantic models with a `type` (their discriminator) and the `notebook_id` the bus
stamps on publish; the agent's are in `hexa.agent.events`, which also names the union that
`WS /api/ws/{notebook_id}` sends and `/openapi.json` describes. A subscriber that falls
behind loses its oldest events and gets one `lagged` event, so a slow browser never slows
the agent down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict

QUEUE_SIZE = 1000


class LiveEvent(BaseModel):
    """Base of every event; `notebook_id` is set by the bus."""

    model_config = ConfigDict(frozen=True)

    notebook_id: str = ""


class Lagged(LiveEvent):
    """This listener was too slow and missed events: read the state again."""

    type: Literal["lagged"] = "lagged"


class NotebookStatusChanged(LiveEvent):
    """The notebook's marimo started, stopped or failed (`detail` says why it failed)."""

    type: Literal["notebook_status"] = "notebook_status"
    status: Literal["stopped", "starting", "running", "failed"]
    detail: str | None = None


class Subscription:
    """One listener's queue; iterate it, and close it (or use `async with`) when done."""

    def __init__(self, bus: EventBus, notebook_id: str, size: int) -> None:
        self.notebook_id = notebook_id
        self._bus = bus
        self._queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)
        self._lagged = False
        self.closed = False

    def _put(self, event: LiveEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self._lagged = True
            self._queue.put_nowait(event)

    async def get(self) -> LiveEvent:
        if self._lagged:
            self._lagged = False
            return Lagged(notebook_id=self.notebook_id)
        return await self._queue.get()

    def get_nowait(self) -> LiveEvent | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    def __aiter__(self) -> AsyncIterator[LiveEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LiveEvent]:
        while not self.closed:
            yield await self.get()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


# Made by every replica for its own listeners, never sent to the others.
LOCAL_ONLY = frozenset({"lagged", "marimo"})

Outbound = Callable[[str, LiveEvent], None]


class EventBus:
    """publish(notebook_id, event) to every current subscriber of that notebook, on this
    replica and (through `relay_to`) on the others."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size
        self._outbound: Outbound | None = None

    def relay_to(self, outbound: Outbound) -> None:
        """Send every published event (but the local-only kinds) to the other replicas."""
        self._outbound = outbound

    def publish(self, notebook_id: str, event: LiveEvent) -> None:
        stamped = event.model_copy(update={"notebook_id": notebook_id})
        self.deliver(notebook_id, stamped)
        if self._outbound is not None and getattr(event, "type", None) not in LOCAL_ONLY:
            self._outbound(notebook_id, stamped)

    def deliver(self, notebook_id: str, event: LiveEvent) -> None:
        """To this replica's subscribers only (an event another replica published)."""
        listeners = self._subscribers.get(notebook_id)
        if not listeners:
            return
        if event.notebook_id != notebook_id:
            event = event.model_copy(update={"notebook_id": notebook_id})
        for subscription in list(listeners):
            subscription._put(event)

    def lag_all(self) -> None:
        """Every subscriber may have missed events (the relay lost its connection)."""
        for notebook_id in list(self._subscribers):
            self.deliver(notebook_id, Lagged())

    def subscribe(self, notebook_id: str) -> Subscription:
        """Start listening now: events published after this call are delivered."""
        subscription = Subscription(self, notebook_id, self._queue_size)
        self._subscribers.setdefault(notebook_id, set()).add(subscription)
        return subscription

    def subscribers(self, notebook_id: str) -> int:
        return len(self._subscribers.get(notebook_id, ()))

    def _remove(self, subscription: Subscription) -> None:
        listeners = self._subscribers.get(subscription.notebook_id)
        if listeners is not None:
            listeners.discard(subscription)
            if not listeners:
                del self._subscribers[subscription.notebook_id]
