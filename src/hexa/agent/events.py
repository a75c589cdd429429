"""The in-process event bus: what happens in a notebook's chat, as it happens.

Events are JSON-ready dicts with a `type` and the `notebook_id`:

- `turn_started`      {turn_id, prompt, resumed?}  (resumed: after an approval)
- `text_delta`        {turn_id, delta}
- `tool_call_started` {turn_id, tool_call_id, tool_name, arguments}
- `tool_call_finished`{turn_id, tool_call_id, tool_name, ok, status, summary, duration_ms}
- `approval_requested`{turn_id, approval: {id, operation, description, arguments,
                       turn_id, expires_at, code_before, code_after}}
- `approval_decided`  {turn_id, approval_id, decision: approved | rejected}
- `turn_done`         {turn_id, status: done | waiting_approval | failed, message}
- `error`             {turn_id, message}
- `run_finished`      {tool_name, ok, message}   a run that outlived its wait has ended
- `turn_undone`       {turn_id, message}
- `marimo`            {op, data}                 marimo's own notifications (relayed)
- `lagged`            {}                         this listener missed events (too slow)

A subscriber that falls behind loses its oldest events (and gets a `lagged` event), so a
slow browser never slows the agent down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Self

Event = dict[str, Any]

QUEUE_SIZE = 1000


class Subscription:
    """One listener's queue; iterate it, and close it (or use `async with`) when done."""

    def __init__(self, bus: EventBus, notebook_id: str, size: int) -> None:
        self.notebook_id = notebook_id
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self._lagged = False
        self.closed = False

    def _put(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                self._queue.get_nowait()
            self._lagged = True
            self._queue.put_nowait(event)

    async def get(self) -> Event:
        if self._lagged:
            self._lagged = False
            return {"type": "lagged", "notebook_id": self.notebook_id}
        return await self._queue.get()

    def get_nowait(self) -> Event | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while not self.closed:
            yield await self.get()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """publish(notebook_id, event) to every current subscriber of that notebook."""

    def __init__(self, queue_size: int = QUEUE_SIZE) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}
        self._queue_size = queue_size

    def publish(self, notebook_id: str, event: Event) -> None:
        event = {**event, "notebook_id": notebook_id}
        for subscription in list(self._subscribers.get(notebook_id, ())):
            subscription._put(event)

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
