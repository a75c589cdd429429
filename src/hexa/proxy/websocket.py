"""WebSocket relay to a notebook's marimo, both ways, close codes kept."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import websockets
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger(__name__)

_OPEN_TIMEOUT = 10.0


async def relay(
    client: WebSocket,
    upstream_url: str,
    *,
    token: str,
    on_activity: Callable[[], None] | None = None,
    drop: Callable[[str], bool] | None = None,
) -> None:
    """Connect upstream, accept the client with the same subprotocol, pump until one closes.

    `drop` filters text frames on their way to the client.
    """
    subprotocols = [
        p.strip() for p in client.headers.get("sec-websocket-protocol", "").split(",") if p.strip()
    ]
    try:
        upstream = await connect(
            upstream_url,
            additional_headers={"Authorization": f"Bearer {token}"},
            subprotocols=[websockets.Subprotocol(p) for p in subprotocols] or None,
            max_size=None,
            open_timeout=_OPEN_TIMEOUT,
            ping_interval=None,
        )
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        logger.info("upstream websocket %s refused: %s", upstream_url, exc)
        # 1011: the server met a condition that prevented it from fulfilling the request.
        await client.close(code=1011, reason="notebook not reachable")
        return
    async with upstream:
        await client.accept(subprotocol=upstream.subprotocol)
        to_upstream = asyncio.create_task(_client_to_upstream(client, upstream, on_activity))
        to_client = asyncio.create_task(_upstream_to_client(upstream, client, on_activity, drop))
        done, pending = await asyncio.wait(
            {to_upstream, to_client}, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for task in done:
            if (error := task.exception()) is not None:
                logger.debug("websocket relay ended: %r", error)


async def _client_to_upstream(
    client: WebSocket, upstream: ClientConnection, on_activity: Callable[[], None] | None
) -> None:
    try:
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                code = int(message.get("code", 1000))
                await upstream.close(code=_close_code(code))
                return
            if on_activity is not None:
                on_activity()
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])
    except (WebSocketDisconnect, ConnectionClosed):
        with contextlib.suppress(Exception):
            await upstream.close()


async def _upstream_to_client(
    upstream: ClientConnection,
    client: WebSocket,
    on_activity: Callable[[], None] | None,
    drop: Callable[[str], bool] | None,
) -> None:
    try:
        async for message in upstream:
            if on_activity is not None:
                on_activity()
            if isinstance(message, str):
                if drop is not None and drop(message):
                    continue
                await client.send_text(message)
            else:
                await client.send_bytes(message)
        code = upstream.close_code or 1000
        reason = upstream.close_reason or ""
    except ConnectionClosed as exc:
        code = exc.rcvd.code if exc.rcvd is not None else 1011
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
    with contextlib.suppress(Exception):
        await client.close(code=_close_code(code), reason=reason)


def _close_code(code: int) -> int:
    """The code to pass on; 1005/1006/1015 are reserved and must never be sent."""
    if code in (1005, 1006, 1015):
        return 1000
    return code if 1000 <= code <= 1014 or 3000 <= code <= 4999 else 1000
