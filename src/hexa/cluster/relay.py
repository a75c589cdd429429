"""Live events and commands across replicas, through PostgreSQL's LISTEN/NOTIFY.

Every replica listens on one channel. An event published on a replica's bus is sent to the
others (except what each replica makes for itself: marimo's own notifications, which every
replica with listeners relays from marimo, and `lagged`), so a browser whose WebSocket is
on replica A sees the turn that replica B runs; so is what recent edits changed (for the
proxy to mend an editor's save with, `hexa.notebooks.editor_saves`). A command asks the
replica that runs a notebook to stop it (a close, a restart or a delete made through
another replica).

NOTIFY carries at most 8000 bytes: a longer message goes in numbered parts, sent in order on
the one sending connection and put together by the listeners. A listener that loses its
connection reconnects and tells its local listeners they lagged (they read the state
again). On SQLite there is one replica, and `LocalRelay` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import asyncpg  # type: ignore[import-untyped]  # no stubs; its calls here are few

logger = logging.getLogger(__name__)

CHANNEL = "hexa_live"
PART = 7000  # characters of one NOTIFY's message (its limit is 8000 bytes, ASCII here)
RETRY_MIN = 0.5
RETRY_MAX = 5.0

OnEvent = Callable[[str, str], None]  # (notebook_id, the event as JSON)
OnStop = Callable[[str], Coroutine[Any, Any, None]]  # (notebook_id)
OnLost = Callable[[], None]


class Relay(Protocol):
    async def start(self, on_stop: OnStop) -> None:
        """Listen; `on_stop` stops a notebook here when another replica asks."""
        ...

    def send_event(self, notebook_id: str, event_json: str) -> None: ...
    def send_stop(self, replica_id: str, notebook_id: str) -> None: ...
    def send_edits(self, notebook_id: str, message_json: str) -> asyncio.Future[None]:
        """What a notebook's recent edits changed (hexa.notebooks.editor_saves); done once
        PostgreSQL has it for the listeners."""
        ...

    async def close(self) -> None: ...


class LocalRelay:
    """One replica (SQLite): nothing to send, nobody to hear."""

    async def start(self, on_stop: OnStop) -> None:
        return None

    def send_event(self, notebook_id: str, event_json: str) -> None:
        return None

    def send_stop(self, replica_id: str, notebook_id: str) -> None:
        return None

    def send_edits(self, notebook_id: str, message_json: str) -> asyncio.Future[None]:
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sent.set_result(None)
        return sent

    async def close(self) -> None:
        return None


class PgRelay:
    def __init__(
        self,
        dsn: str,
        replica_id: str,
        *,
        on_event: OnEvent,
        on_lost: OnLost,
        on_edits: OnEvent | None = None,
    ) -> None:
        self._dsn = dsn
        self._replica_id = replica_id
        self._on_event = on_event
        self._on_edits = on_edits
        self._on_stop: OnStop | None = None
        self._on_lost = on_lost
        # Each message, and what waits for it to be sent, if anything.
        self._outbox: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None] | None]] = (
            asyncio.Queue()
        )
        self._parts: dict[str, list[str]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stops: set[asyncio.Task[None]] = set()
        self._listening = asyncio.Event()

    async def start(self, on_stop: OnStop) -> None:
        self._on_stop = on_stop
        self._tasks = [
            asyncio.create_task(self._listen(), name="hexa-relay-listen"),
            asyncio.create_task(self._send(), name="hexa-relay-send"),
        ]
        # Events sent from now on reach this replica's listeners.
        async with asyncio.timeout(30):
            await self._listening.wait()

    def send_event(self, notebook_id: str, event_json: str) -> None:
        message = {"kind": "event", "notebook_id": notebook_id, "event": event_json}
        self._outbox.put_nowait((message, None))

    def send_stop(self, replica_id: str, notebook_id: str) -> None:
        message = {"kind": "stop", "to": replica_id, "notebook_id": notebook_id}
        self._outbox.put_nowait((message, None))

    def send_edits(self, notebook_id: str, message_json: str) -> asyncio.Future[None]:
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        message = {"kind": "edits", "notebook_id": notebook_id, "edits": message_json}
        self._outbox.put_nowait((message, sent))
        return sent

    async def close(self) -> None:
        for task in (*self._tasks, *self._stops):
            task.cancel()
        for task in (*self._tasks, *self._stops):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- sending ----------------------------------------------------------------------------

    async def _send(self) -> None:
        delay = RETRY_MIN
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("relay could not connect to send: %s", exc)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            delay = RETRY_MIN
            try:
                while True:
                    message, sent = await self._outbox.get()
                    for part in _split({"from": self._replica_id, **message}):
                        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, part)
                    if sent is not None and not sent.done():
                        sent.set_result(None)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("relay lost its sending connection: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    # -- listening --------------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = RETRY_MIN
        first = True
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._dsn)
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._received)
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("relay could not connect to listen: %s", exc)
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, delay * 2)
                continue
            delay = RETRY_MIN
            self._listening.set()
            if not first:
                # Whatever was sent while this replica was not listening is gone.
                self._on_lost()
            first = False
            try:
                await lost.wait()
                logger.warning("relay lost its listening connection; reconnecting")
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        message = _join(self._parts, payload)
        if message is None or message.get("from") == self._replica_id:
            return
        kind = message.get("kind")
        if kind == "event":
            self._on_event(str(message["notebook_id"]), str(message["event"]))
        elif kind == "edits" and self._on_edits is not None:
            self._on_edits(str(message["notebook_id"]), str(message["edits"]))
        elif kind == "stop" and message.get("to") == self._replica_id and self._on_stop:
            task = asyncio.get_running_loop().create_task(
                self._on_stop(str(message["notebook_id"]))
            )
            self._stops.add(task)
            task.add_done_callback(self._stops.discard)


def _split(message: dict[str, Any]) -> list[str]:
    """One NOTIFY message, or numbered parts of it when it is too long for one."""
    text = json.dumps(message, separators=(",", ":"), ensure_ascii=True)
    if len(text) <= PART:
        return [text]
    key = secrets.token_hex(8)
    # Re-encoded inside a part, a chunk's quotes and backslashes take two characters each.
    size = PART // 2
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    return [
        json.dumps({"part": key, "i": i, "n": len(chunks), "d": chunk}, separators=(",", ":"))
        for i, chunk in enumerate(chunks)
    ]


def _join(parts: dict[str, list[str]], payload: str) -> dict[str, Any] | None:
    """The message, once whole (parts arrive in order, each message's from one sender)."""
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if "part" not in data:
        return data
    key, index, total = str(data["part"]), int(data["i"]), int(data["n"])
    got = parts.setdefault(key, [])
    if index != len(got):  # a part went missing (a reconnect): drop the message
        parts.pop(key, None)
        return None
    got.append(str(data["d"]))
    if len(got) < total:
        return None
    del parts[key]
    whole = json.loads("".join(got))
    return whole if isinstance(whole, dict) else None
