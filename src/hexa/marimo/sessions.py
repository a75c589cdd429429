"""Sessions over marimo's WebSocket: opening one and waiting for its kernel, restarting
the kernel, and following a session's notifications.

There is no session until a WebSocket connects (research §2). Hexa connects, waits for
`kernel-ready` (and for the first run to complete), and lets go, so the person's browser
resumes the session as its editor; viewers join as read-only `kiosk` connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from hexa.marimo.errors import (
    MarimoAuthError,
    MarimoError,
    MarimoNotRunningError,
    MarimoSessionError,
    MarimoTimeoutError,
)
from hexa.marimo.models import Notification, SessionInfo
from hexa.marimo.transport import SESSION_HEADER, OnConnection

__all__ = ["SessionOps"]

# marimo frames (kernel-ready with every cell's code, cell outputs up to 5 MB) exceed the
# websockets default of 1 MiB.
_WS_MAX_SIZE = 64 * 1024 * 1024


def _closed_error(exc: ConnectionClosed) -> MarimoError:
    reason = exc.rcvd.reason if exc.rcvd is not None else ""
    if reason == "MARIMO_NO_SESSION":
        return MarimoSessionError("marimo has no session to connect to")
    if reason == "MARIMO_UNAUTHORIZED":
        return MarimoAuthError("WebSocket unauthorized")
    return MarimoNotRunningError(f"WebSocket closed: {reason or exc}")


def _notification(raw: str | bytes) -> Notification:
    frame = json.loads(raw)
    return Notification(op=str(frame.get("op", "")), data=frame.get("data") or {})


async def _receive(ws: ClientConnection) -> Notification:
    try:
        raw = await ws.recv()
    except ConnectionClosed as exc:
        raise _closed_error(exc) from exc
    return _notification(raw)


async def _wait_op(ws: ClientConnection, op: str) -> Notification:
    while True:
        frame = await _receive(ws)
        if frame["op"] == op:
            return frame


class SessionOps(OnConnection):
    """The notebook's session: open it, restart its kernel, follow its notifications."""

    def _ws_url(self, session_id: str, *, kiosk: bool) -> str:
        base = "ws" + self._conn.base_url.removeprefix("http")  # http->ws, https->wss
        params = {"session_id": session_id}
        if kiosk:
            params["kiosk"] = "true"
        if self._conn.file_key is not None:
            params["file"] = self._conn.file_key
        return f"{base}/ws?{urlencode(params)}"

    @contextlib.asynccontextmanager
    async def _websocket(
        self, session_id: str, *, kiosk: bool, open_timeout: float
    ) -> AsyncIterator[ClientConnection]:
        try:
            ws = await connect(
                self._ws_url(session_id, kiosk=kiosk),
                additional_headers=self._conn.auth(),
                open_timeout=open_timeout,
                max_size=_WS_MAX_SIZE,
                proxy=None,
                close_timeout=2,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise MarimoAuthError(f"WebSocket refused: HTTP {status}", status=status) from exc
            raise MarimoError(f"WebSocket refused: HTTP {status}", status=status) from exc
        except InvalidHandshake as exc:
            raise MarimoError(f"WebSocket handshake failed: {exc}") from exc
        except TimeoutError as exc:
            raise MarimoTimeoutError("WebSocket did not open in time") from exc
        except OSError as exc:
            raise MarimoNotRunningError(f"marimo at {self._conn.base_url} refused: {exc}") from exc
        try:
            yield ws
        finally:
            await ws.close()

    async def open_session(
        self,
        timeout: float = 30.0,
        *,
        run_timeout: float | None = None,
        on_ready: Callable[[], Awaitable[None]] | None = None,
    ) -> SessionInfo:
        """Create (or join) the notebook's session, run it, and let go of it.

        This connects, waits for `kernel-ready`, runs every cell the way marimo's editor
        does on open (instantiate with autoRun; `auto_instantiate` is off in 0.25), waits
        for that run to finish, and closes, so the person's browser resumes the session as
        its editor. If someone else already edits the session, marimo makes this
        connection a viewer (`kiosk`) and nothing is run. `timeout` bounds reaching
        `kernel-ready`; `run_timeout` (default: `timeout`) bounds the wait for the first
        run, which may outlive it, in which case `run_completed` is False and the run
        goes on. `on_ready` is awaited once `kernel-ready` has come, before the run.
        """
        ws_id = f"hexa-{secrets.token_urlsafe(9)}"
        run_wait = timeout if run_timeout is None else run_timeout
        async with self._websocket(ws_id, kiosk=False, open_timeout=timeout) as ws:
            try:
                async with asyncio.timeout(timeout):
                    ready = (await _wait_op(ws, "kernel-ready"))["data"]
            except TimeoutError as exc:
                raise MarimoTimeoutError("no kernel-ready from marimo in time") from exc
            if on_ready is not None:
                await on_ready()
            kiosk = bool(ready.get("kiosk"))
            resumed = bool(ready.get("resumed"))
            completed = True
            if not (kiosk or resumed or ready.get("auto_instantiated")):
                completed = await self._run_on_open(ws, ws_id, run_wait)
        self._conn.stable_session_id = str(ready["stable_session_id"])
        # A viewer's id is not the session's key; the editor's is found on first use.
        self._conn.ws_id = None if kiosk else ws_id
        return _session_info(ws_id, self._conn.stable_session_id, ready, completed)

    async def _run_on_open(self, ws: ClientConnection, ws_id: str, run_wait: float) -> bool:
        """Run every cell as the editor does on open; False if the run outlived
        `run_wait`."""
        # Sent while this ws is still the editor: instantiate needs edit rights, and the
        # completed-run that ends the run arrives on this socket.
        await self._conn.call(
            "POST",
            "/api/kernel/instantiate",
            body={"objectIds": [], "values": [], "autoRun": True},
            headers={SESSION_HEADER: ws_id},
        )
        try:
            async with asyncio.timeout(run_wait):
                await _wait_op(ws, "completed-run")
        except TimeoutError:
            return False
        return True

    async def restart_kernel(self, timeout: float = 30.0) -> SessionInfo:
        """Close the session (its kernel) and open a fresh one; the server stays up.

        `/api/kernel/restart_session` only closes the session: every WebSocket on it is
        closed with `MARIMO_SHUTDOWN`, which marimo's editor treats as terminal ("kernel
        not found") until the page is reloaded, so the browser must reload afterwards.
        (`/api/kernel/shutdown` would stop the whole single-file server.)
        """
        await self._conn.session_call("POST", "/api/kernel/restart_session")
        self._conn.stable_session_id = None
        self._conn.ws_id = None
        return await self.open_session(timeout)

    async def close_session(self) -> bool:
        """Close the session and stop its kernel; the server, and any other session it
        serves, stay up. Without a known session (an open that failed half-way), every
        session of the client's file is closed. False when there was none."""
        stable = self._conn.stable_session_id
        refs = await self._conn.sessions()
        if stable is not None:
            mine = [r for r in refs if r.stable_session_id == stable]
        elif self._conn.file_key is not None:
            mine = [r for r in refs if _same_file(r.path, self._conn.file_key)]
        else:
            mine = []
        for ref in mine:
            await self._conn.call(
                "POST", "/api/home/shutdown_session", body={"sessionId": ref.ws_session_id}
            )
        self._conn.stable_session_id = None
        self._conn.ws_id = None
        return bool(mine)

    async def events(
        self, *, kiosk: bool = True, open_timeout: float = 10.0
    ) -> AsyncGenerator[Notification, None]:
        """marimo's notifications from a viewer WebSocket, as they come.

        With `kiosk=True` (the default) the connection is a read-only viewer and never
        takes the editor role from the person. It joins the existing session, so open one
        first; marimo closes it with MarimoSessionError when there is none. It ends when
        marimo closes the socket (server shutdown, kernel restart). Waits between events
        are unbounded by design; websockets' ping/pong (20 s) detects a dead peer.
        Use with `contextlib.aclosing` so the socket closes when the caller stops.
        """
        session_id = f"hexa-view-{secrets.token_urlsafe(9)}"
        async with self._websocket(session_id, kiosk=kiosk, open_timeout=open_timeout) as ws:
            while True:
                try:
                    raw = await ws.recv()
                except ConnectionClosed as exc:
                    reason = exc.rcvd.reason if exc.rcvd is not None else ""
                    if reason == "MARIMO_SHUTDOWN" or (
                        exc.rcvd is not None and exc.rcvd.code == 1000 and not reason
                    ):
                        return
                    raise _closed_error(exc) from exc
                yield _notification(raw)


def _session_info(
    ws_id: str, stable_session_id: str, ready: dict[str, Any], completed: bool
) -> SessionInfo:
    return SessionInfo(
        ws_session_id=ws_id,
        stable_session_id=stable_session_id,
        cell_ids=tuple(ready.get("cell_ids") or ()),
        codes=tuple(ready.get("codes") or ()),
        names=tuple(ready.get("names") or ()),
        resumed=bool(ready.get("resumed")),
        kiosk=bool(ready.get("kiosk")),
        run_completed=completed,
    )


def _same_file(path: str | None, file_key: str) -> bool:
    """Whether marimo's path of a session (absolute, as the server sees it) is the file
    `file_key` (relative to the folder the server serves)."""
    if not path:
        return False
    parts = PurePosixPath(file_key).parts
    return PurePosixPath(path).parts[-len(parts) :] == parts
