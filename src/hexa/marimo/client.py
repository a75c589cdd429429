"""`MarimoClient`: the one object in Hexa that speaks to a `marimo edit` server.

It knows marimo 0.25.2's HTTP, WebSocket and code-mode protocol (research/marimo-api.md):
sessions are opened over a WebSocket and then left to the person's browser, reads go
through `invoke_tool` (which wants the *current* ws session id), and every edit goes
through code mode (`/api/kernel/execute`, by stable session id), the one path that updates
kernel, browser and `.py` file together.

The client is composed of parts, each in its own module over one shared `Connection`
(`transport`): `SessionOps` (`sessions`: WebSocket, opening a session and waiting for its
kernel), `ToolReads` (`tools`: `invoke_tool` reads) and `CodeMode` (`codemode`: execute,
edits, `read_cells`). The server and kernel calls that fit none of them are here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from hexa.marimo.codemode import CodeMode
from hexa.marimo.errors import MarimoError
from hexa.marimo.models import KernelState, ServerStatus, SessionRef
from hexa.marimo.saves import BatchWatch
from hexa.marimo.sessions import SessionOps
from hexa.marimo.tools import ToolReads
from hexa.marimo.transport import Connection, MarimoHTTP, make_http_client

__all__ = ["MarimoClient", "make_http_client"]


class MarimoClient(SessionOps, ToolReads, CodeMode):
    """Typed access to one marimo server (one notebook).

    `base_url` includes marimo's base path (`http://127.0.0.1:PORT/nb/<id>`). `http` (the
    app's `Wire`, or an httpx2 client) is shared and owned by the app; requests are built
    here with their own headers and timeouts and never take cookies from a jar. Code-mode
    calls through one client are serialized: use one MarimoClient per notebook.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        http: MarimoHTTP,
        *,
        stable_session_id: str | None = None,
        request_timeout: float = 30.0,
        execute_timeout: float = 120.0,
        file_key: str | None = None,
        watch: Callable[[], BatchWatch] | None = None,
    ) -> None:
        conn = Connection(
            base_url,
            token,
            http,
            stable_session_id=stable_session_id,
            request_timeout=request_timeout,
            file_key=file_key,
        )
        # Every part shares `conn`; only CodeMode has settings of its own.
        super().__init__(conn, execute_timeout=execute_timeout, watch=watch)

    @property
    def base_url(self) -> str:
        return self._conn.base_url

    @property
    def file_key(self) -> str | None:
        """The notebook's file when the server serves a folder (its `?file=`)."""
        return self._conn.file_key

    @property
    def stable_session_id(self) -> str | None:
        return self._conn.stable_session_id

    def abort(self, reason: str) -> None:
        """The notebook stopped or its kernel died: end the calls waiting on it (and any
        later one) with MarimoNotRunningError."""
        self._conn.abort(reason)

    # ------------------------------------------------------------------ server, sessions

    async def health(self, timeout: float = 2.0) -> bool:
        """`GET {base}/health` (no auth); False when the server does not answer."""
        try:
            response = await self._conn.send("GET", "/health", auth=False, timeout=timeout)
        except MarimoError:
            return False
        return response.status_code == 200

    async def status(self) -> ServerStatus:
        data = await self._conn.call("GET", "/api/status")
        return ServerStatus(
            status=str(data.get("status", "")),
            mode=str(data.get("mode", "")),
            version=str(data.get("version", "")),
            sessions=int(data.get("sessions", 0)),
            filenames=tuple(str(f) for f in data.get("filenames") or ()),
        )

    async def sessions(self) -> list[SessionRef]:
        """`GET /api/sessions`: each session's current ws id and stable id."""
        return await self._conn.sessions()

    async def ws_session_id(self, *, refresh: bool = False) -> str:
        """The ws id the session is currently filed under (it changes when a browser
        resumes the session), for `Marimo-Session-Id` and the tools' `session_id`."""
        return await self._conn.ws_session_id(refresh=refresh)

    # ------------------------------------------------------------------ kernel calls

    async def kernel_status(self) -> KernelState:
        data = await self._conn.session_call("GET", "/api/kernel/status")
        state = data.get("state")
        if state not in ("idle", "running", "stopped"):
            raise MarimoError(f"unexpected kernel state: {state!r}")
        return cast("KernelState", state)

    async def read_code(self) -> str:
        """The notebook file's text as marimo has it (`/api/kernel/read_code`)."""
        data = await self._conn.session_call("POST", "/api/kernel/read_code")
        return str(data.get("contents", ""))

    async def interrupt(self) -> None:
        await self._conn.session_call("POST", "/api/kernel/interrupt")

    async def format(self, codes: Mapping[str, str], line_length: int = 79) -> dict[str, str]:
        """Format cell codes with marimo's formatter (ruff). Keys are any ids; a code
        ruff cannot parse is left out of the reply."""
        data = await self._conn.session_call(
            "POST", "/api/kernel/format", body={"codes": dict(codes), "lineLength": line_length}
        )
        return {str(k): str(v) for k, v in (data.get("codes") or {}).items()}
