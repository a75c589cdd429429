"""`MarimoClient`: the one object in Hexa that speaks to a `marimo edit` server.

It knows marimo 0.25.2's HTTP, WebSocket and code-mode protocol (research/marimo-api.md):
sessions are opened over a WebSocket and then left to the person's browser, reads go
through `invoke_tool` (which wants the *current* ws session id), and every edit goes
through code mode (`/api/kernel/execute`, by stable session id), the one path that updates
kernel, browser and `.py` file together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, cast

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from hexa.marimo import program
from hexa.marimo.errors import (
    CellConflictError,
    CellNotFoundError,
    CodeModeError,
    MarimoAuthError,
    MarimoError,
    MarimoNotRunningError,
    MarimoSessionError,
    MarimoTimeoutError,
    error_from_response,
    error_from_tool,
)
from hexa.marimo.models import (
    ActiveNotebooks,
    ApplyResult,
    CellMap,
    CellOutput,
    CellOutputs,
    CellRuntimeData,
    CellSnapshot,
    ConsoleOutput,
    CreateCell,
    DatabaseTable,
    DeleteCell,
    DependencyGraph,
    EditCell,
    ExecuteResult,
    KernelState,
    LintReport,
    MoveCell,
    NotebookErrors,
    Notification,
    Op,
    Output,
    RunCell,
    RunStale,
    ServerStatus,
    SessionInfo,
    SessionRef,
    TablesAndVariables,
    Target,
)
from hexa.marimo.sse import SSEEvent, SSEParser

__all__ = ["MarimoClient", "make_http_client"]

# marimo frames (kernel-ready with every cell's code, cell outputs up to 5 MB) exceed the
# websockets default of 1 MiB.
_WS_MAX_SIZE = 64 * 1024 * 1024
_SESSION_HEADER = "Marimo-Session-Id"
_STABLE_HEADER = "Marimo-Stable-Session-Id"
# Lines code mode prints after applying a batch ("created and ran cell 'Ab12' (name)").
_SUMMARY_LINE = re.compile(
    r"^(created|created and ran|edited|deleted|moved|re-ran|installed|uninstalled|updated) "
)


def make_http_client(timeout: float = 30.0) -> httpx2.AsyncClient:
    """An AsyncClient fit for marimo servers.

    marimo answers a Bearer request with a session cookie. A normal client jar would keep
    it and send it on every later request to that server, whatever the caller's own
    credentials: a cross-user hole if the same client also proxies browsers. This jar
    refuses every cookie. Environment proxies are ignored: marimo is on loopback.
    """
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    # The jar itself, not httpx2.Cookies(jar): the client copies a Cookies into a fresh
    # default jar and the policy would be lost.
    return httpx2.AsyncClient(cookies=jar, trust_env=False, timeout=timeout, follow_redirects=False)


class MarimoClient:
    """Typed access to one marimo server (one notebook).

    `base_url` includes marimo's base path (`http://127.0.0.1:PORT/nb/<id>`). The
    AsyncClient is shared and owned by the app; requests are built here with their own
    headers and timeouts and never take cookies from its jar.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        http: httpx2.AsyncClient,
        *,
        stable_session_id: str | None = None,
        request_timeout: float = 30.0,
        execute_timeout: float = 120.0,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token
        self._http = http
        self._stable = stable_session_id
        self._ws_id: str | None = None  # cached current ws id of the stable session
        self._request_timeout = request_timeout
        self._execute_timeout = execute_timeout
        # marimo runs one scratchpad at a time and starts watching for a hang-up before
        # it queues a call: a queued call that times out would interrupt the running one.
        # Hexa's own calls therefore wait here (inside their deadline) instead.
        self._execute_lock = asyncio.Lock()

    @property
    def base_url(self) -> str:
        return self._base

    @property
    def stable_session_id(self) -> str | None:
        return self._stable

    # ------------------------------------------------------------------ HTTP plumbing

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def _send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx2.Timeout | float | None = None,
        auth: bool = True,
        stream: bool = False,
    ) -> httpx2.Response:
        merged = {**(self._auth() if auth else {}), **(headers or {})}
        limit = timeout if timeout is not None else self._request_timeout
        # Built directly (not client.build_request) so no jar cookie is ever attached.
        request = httpx2.Request(
            method,
            f"{self._base}{path}",
            json=body,
            headers=merged,
            extensions={"timeout": httpx2.Timeout(limit).as_dict()},
        )
        for attempt in range(2):
            try:
                return await self._http.send(request, stream=stream, follow_redirects=False)
            except httpx2.ConnectError as exc:
                raise MarimoNotRunningError(f"marimo at {self._base} refused: {exc}") from exc
            except httpx2.TimeoutException as exc:
                raise MarimoTimeoutError(f"{method} {path} timed out") from exc
            except (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError) as exc:
                # After an unhandled error (HTTP 500, e.g. an unknown Marimo-Session-Id)
                # uvicorn closes the connection the pool still holds, and the next request
                # on it fails before marimo reads it: one retry on a fresh connection. A
                # dead server then shows up as a refused connection.
                if attempt == 0:
                    continue
                raise MarimoNotRunningError(f"marimo at {self._base} went away: {exc}") from exc
            except httpx2.TransportError as exc:
                raise MarimoNotRunningError(f"marimo at {self._base}: {exc}") from exc
        raise AssertionError("unreachable")

    @staticmethod
    def _decode(response: httpx2.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            return response.text

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        response = await self._send(method, path, body=body, headers=headers, timeout=timeout)
        decoded = self._decode(response)
        error = error_from_response(response.status_code, decoded)
        if error is not None:
            raise error
        return decoded

    async def _session_call(
        self, method: str, path: str, *, body: Any = None, timeout: float | None = None
    ) -> Any:
        """A call that needs `Marimo-Session-Id`; re-resolves the id once if it went stale."""
        for attempt in range(2):
            ws_id = await self.ws_session_id(refresh=attempt > 0)
            try:
                return await self._call(
                    method, path, body=body, headers={_SESSION_HEADER: ws_id}, timeout=timeout
                )
            except MarimoSessionError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ server, sessions

    async def health(self, timeout: float = 2.0) -> bool:
        """`GET {base}/health` (no auth); False when the server does not answer."""
        try:
            response = await self._send("GET", "/health", auth=False, timeout=timeout)
        except MarimoError:
            return False
        return response.status_code == 200

    async def status(self) -> ServerStatus:
        data = await self._call("GET", "/api/status")
        return ServerStatus(
            status=str(data.get("status", "")),
            mode=str(data.get("mode", "")),
            version=str(data.get("version", "")),
            sessions=int(data.get("sessions", 0)),
            filenames=tuple(str(f) for f in data.get("filenames") or ()),
        )

    async def sessions(self) -> list[SessionRef]:
        """`GET /api/sessions`: each session's current ws id and stable id."""
        data = await self._call("GET", "/api/sessions")
        if not isinstance(data, dict):
            raise MarimoError(f"unexpected /api/sessions reply: {data!r}")
        return [
            SessionRef(ws_session_id=ws_id, stable_session_id=info["session_id"], path=info["path"])
            for ws_id, info in data.items()
        ]

    def _require_stable(self) -> str:
        if self._stable is None:
            raise MarimoSessionError("no session: call open_session() first")
        return self._stable

    async def ws_session_id(self, *, refresh: bool = False) -> str:
        """The ws id the session is currently filed under (it changes when a browser
        resumes the session), for `Marimo-Session-Id` and the tools' `session_id`."""
        stable = self._require_stable()
        if self._ws_id is not None and not refresh:
            return self._ws_id
        for ref in await self.sessions():
            if ref.stable_session_id == stable:
                self._ws_id = ref.ws_session_id
                return ref.ws_session_id
        self._ws_id = None
        raise MarimoSessionError(f"session {stable} is gone")

    async def kernel_status(self) -> KernelState:
        data = await self._session_call("GET", "/api/kernel/status")
        state = data.get("state")
        if state not in ("idle", "running", "stopped"):
            raise MarimoError(f"unexpected kernel state: {state!r}")
        return cast("KernelState", state)

    # ------------------------------------------------------------------ WebSocket

    def _ws_url(self, session_id: str, *, kiosk: bool) -> str:
        base = "ws" + self._base.removeprefix("http")  # http->ws, https->wss
        query = f"session_id={session_id}" + ("&kiosk=true" if kiosk else "")
        return f"{base}/ws?{query}"

    @contextlib.asynccontextmanager
    async def _websocket(
        self, session_id: str, *, kiosk: bool, open_timeout: float
    ) -> AsyncIterator[ClientConnection]:
        try:
            ws = await connect(
                self._ws_url(session_id, kiosk=kiosk),
                additional_headers=self._auth(),
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
            raise MarimoNotRunningError(f"marimo at {self._base} refused: {exc}") from exc
        try:
            yield ws
        finally:
            await ws.close()

    @staticmethod
    def _closed_error(exc: ConnectionClosed) -> MarimoError:
        reason = exc.rcvd.reason if exc.rcvd is not None else ""
        if reason == "MARIMO_NO_SESSION":
            return MarimoSessionError("marimo has no session to connect to")
        if reason == "MARIMO_UNAUTHORIZED":
            return MarimoAuthError("WebSocket unauthorized")
        return MarimoNotRunningError(f"WebSocket closed: {reason or exc}")

    async def _receive(self, ws: ClientConnection) -> Notification:
        try:
            raw = await ws.recv()
        except ConnectionClosed as exc:
            raise self._closed_error(exc) from exc
        frame = json.loads(raw)
        return Notification(op=str(frame.get("op", "")), data=frame.get("data") or {})

    async def _wait_op(self, ws: ClientConnection, op: str) -> Notification:
        while True:
            frame = await self._receive(ws)
            if frame["op"] == op:
                return frame

    async def open_session(
        self, timeout: float = 30.0, *, run_timeout: float | None = None
    ) -> SessionInfo:
        """Create (or join) the notebook's session, run it, and let go of it.

        There is no session until a WebSocket connects (research §2). This one connects,
        waits for `kernel-ready`, runs every cell the way marimo's editor does on open
        (instantiate with autoRun; `auto_instantiate` is off in 0.25), waits for that run
        to finish, and closes, so the person's browser resumes the session as its editor.
        If someone else already edits the session, marimo makes this connection a viewer
        (`kiosk`) and nothing is run. `timeout` bounds reaching `kernel-ready`;
        `run_timeout` (default: `timeout`) bounds the wait for the first run, which may
        outlive it, in which case `run_completed` is False and the run goes on.
        """
        ws_id = f"hexa-{secrets.token_urlsafe(9)}"
        run_wait = timeout if run_timeout is None else run_timeout
        async with self._websocket(ws_id, kiosk=False, open_timeout=timeout) as ws:
            try:
                async with asyncio.timeout(timeout):
                    ready = (await self._wait_op(ws, "kernel-ready"))["data"]
            except TimeoutError as exc:
                raise MarimoTimeoutError("no kernel-ready from marimo in time") from exc
            kiosk = bool(ready.get("kiosk"))
            resumed = bool(ready.get("resumed"))
            completed = True
            if not (kiosk or resumed or ready.get("auto_instantiated")):
                # Sent while this ws is still the editor: instantiate needs edit rights,
                # and the completed-run that ends the run arrives on this socket.
                await self._call(
                    "POST",
                    "/api/kernel/instantiate",
                    body={"objectIds": [], "values": [], "autoRun": True},
                    headers={_SESSION_HEADER: ws_id},
                )
                try:
                    async with asyncio.timeout(run_wait):
                        await self._wait_op(ws, "completed-run")
                except TimeoutError:
                    completed = False
        self._stable = str(ready["stable_session_id"])
        # A viewer's id is not the session's key; the editor's is found on first use.
        self._ws_id = None if kiosk else ws_id
        return SessionInfo(
            ws_session_id=ws_id,
            stable_session_id=self._stable,
            cell_ids=tuple(ready.get("cell_ids") or ()),
            codes=tuple(ready.get("codes") or ()),
            names=tuple(ready.get("names") or ()),
            resumed=resumed,
            kiosk=kiosk,
            run_completed=completed,
        )

    async def restart_kernel(self, timeout: float = 30.0) -> SessionInfo:
        """Close the session (its kernel) and open a fresh one; the server stays up.

        `/api/kernel/restart_session` only closes the session: every WebSocket on it is
        closed with `MARIMO_SHUTDOWN`, which marimo's editor treats as terminal ("kernel
        not found") until the page is reloaded, so the browser must reload afterwards.
        (`/api/kernel/shutdown` would stop the whole single-file server.)
        """
        await self._session_call("POST", "/api/kernel/restart_session")
        self._stable = None
        self._ws_id = None
        return await self.open_session(timeout)

    async def events(
        self, *, kiosk: bool = True, open_timeout: float = 10.0
    ) -> AsyncIterator[Notification]:
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
                    raise self._closed_error(exc) from exc
                frame = json.loads(raw)
                yield Notification(op=str(frame.get("op", "")), data=frame.get("data") or {})

    # ------------------------------------------------------------------ invoke_tool reads

    async def _tool(
        self,
        name: str,
        arguments: Mapping[str, Any],
        *,
        cell_ids: Sequence[str] = (),
        session_arg: bool = True,
    ) -> dict[str, Any]:
        for attempt in range(2):
            ws_id = await self.ws_session_id(refresh=attempt > 0)
            # The header is always required; tools without arguments reject `session_id`.
            args = {"session_id": ws_id, **arguments} if session_arg else dict(arguments)
            body = {"toolName": name, "arguments": args}
            try:
                reply = await self._call(
                    "POST", "/api/ai/invoke_tool", body=body, headers={_SESSION_HEADER: ws_id}
                )
                if not isinstance(reply, dict):
                    raise MarimoError(f"unexpected invoke_tool reply: {reply!r}")
                # Always HTTP 200; failure is `success: false` with a string error.
                if not reply.get("success"):
                    raise error_from_tool(reply.get("error"), tuple(cell_ids))
                result = reply.get("result")
                if not isinstance(result, dict):
                    raise MarimoError(f"tool {name} returned {result!r}")
                return result
            except MarimoSessionError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def cell_map(self, preview_lines: int = 3) -> CellMap:
        """`get_lightweight_cell_map`: every cell with a preview, type and state."""
        r = await self._tool("get_lightweight_cell_map", {"preview_lines": preview_lines})
        return CellMap(
            notebook_name=r.get("notebook_name", ""),
            cells=r.get("cells") or [],
            total_cells=r.get("total_cells", 0),
            preview_lines=r.get("preview_lines", preview_lines),
        )

    async def cell_runtime_data(self, cell_ids: Sequence[str]) -> list[CellRuntimeData]:
        """`get_cell_runtime_data`: code, errors, runtime state and variables per cell."""
        ids = list(cell_ids)
        r = await self._tool("get_cell_runtime_data", {"cell_ids": ids}, cell_ids=ids)
        return cast("list[CellRuntimeData]", r.get("data") or [])

    async def cell_outputs(self, cell_ids: Sequence[str] = ()) -> list[CellOutputs]:
        """`get_cell_outputs`: visual output and console per cell ([] = all cells)."""
        ids = list(cell_ids)
        r = await self._tool("get_cell_outputs", {"cell_ids": ids}, cell_ids=ids)
        return cast("list[CellOutputs]", r.get("cells") or [])

    async def notebook_errors(self) -> NotebookErrors:
        """`get_notebook_errors`."""
        r = await self._tool("get_notebook_errors", {})
        return NotebookErrors(
            has_errors=bool(r.get("has_errors")),
            total_errors=int(r.get("total_errors", 0)),
            total_cells_with_errors=int(r.get("total_cells_with_errors", 0)),
            cells=r.get("cells") or [],
        )

    async def tables_and_variables(self, names: Sequence[str] = ()) -> TablesAndVariables:
        """`get_tables_and_variables`: dataframes (columns, samples) and variables
        ([] = all)."""
        r = await self._tool("get_tables_and_variables", {"variable_names": list(names)})
        return TablesAndVariables(tables=r.get("tables") or {}, variables=r.get("variables") or {})

    async def database_tables(self, query: str | None = None) -> list[DatabaseTable]:
        """`get_database_tables`; [] when the notebook has no database connection."""
        try:
            r = await self._tool("get_database_tables", {"query": query})
        except MarimoError as exc:
            if exc.code == "NO_DATABASES_FOUND":
                return []
            raise
        return cast("list[DatabaseTable]", r.get("tables") or [])

    async def lint(self) -> LintReport:
        """`lint_notebook`: marimo's checker on the notebook as it is now."""
        r = await self._tool("lint_notebook", {})
        return LintReport(summary=r["summary"], diagnostics=r.get("diagnostics") or [])

    async def dependency_graph(
        self, cell_id: str | None = None, depth: int | None = None
    ) -> DependencyGraph:
        """`get_cell_dependency_graph`: defs/refs per cell, owners, multiply-defined names
        and cycles; around `cell_id` up to `depth` hops when given."""
        args: dict[str, Any] = {"cell_id": cell_id, "depth": depth}
        r = await self._tool(
            "get_cell_dependency_graph", args, cell_ids=(cell_id,) if cell_id else ()
        )
        return DependencyGraph(
            cells=r.get("cells") or [],
            variable_owners=r.get("variable_owners") or {},
            multiply_defined=r.get("multiply_defined") or [],
            cycles=r.get("cycles") or [],
        )

    async def marimo_rules(self) -> str:
        """`get_marimo_rules`: marimo's guide for writing notebooks (markdown)."""
        r = await self._tool("get_marimo_rules", {}, session_arg=False)
        return str(r.get("rules_content") or "")

    async def active_notebooks(self) -> ActiveNotebooks:
        """`get_active_notebooks`: the sessions of this server."""
        r = await self._tool("get_active_notebooks", {}, session_arg=False)
        data = r.get("data") or {}
        summary = data.get("summary") or {}
        return ActiveNotebooks(
            total_notebooks=int(summary.get("total_notebooks", 0)),
            active_connections=int(summary.get("active_connections", 0)),
            notebooks=data.get("notebooks") or [],
        )

    # ------------------------------------------------------------------ code mode

    async def execute(self, code: str, timeout: float | None = None) -> ExecuteResult:
        """Run `code` in the kernel's scratchpad (`POST /api/kernel/execute`, SSE reply).

        On timeout the stream is closed and MarimoTimeoutError is raised. marimo answers a
        hang-up by interrupting the kernel, whatever it runs at that moment (a cell the
        person started included). Calls through one client are serialized, so use one
        MarimoClient per notebook.
        """
        stable = self._require_stable()
        limit = self._execute_timeout if timeout is None else timeout
        stdout: list[str] = []
        stderr: list[str] = []
        done: dict[str, Any] | None = None

        def take(event: SSEEvent) -> None:
            nonlocal done
            payload = json.loads(event.data)
            if event.event == "stdout":
                stdout.append(str(payload.get("data", "")))
            elif event.event == "stderr":
                stderr.append(str(payload.get("data", "")))
            elif event.event == "done":
                done = payload

        try:
            async with asyncio.timeout(limit), self._execute_lock:
                response = await self._send(
                    "POST",
                    "/api/kernel/execute",
                    body={"code": code},
                    headers={_STABLE_HEADER: stable},
                    # asyncio.timeout is the deadline; a cell may print nothing for long.
                    timeout=httpx2.Timeout(limit + 5.0),
                    stream=True,
                )
                try:
                    if response.status_code != 200:
                        await response.aread()
                        error = error_from_response(response.status_code, self._decode(response))
                        raise error or MarimoError(f"execute: HTTP {response.status_code}")
                    parser = SSEParser()
                    # Read to the end (not just to `done`): hanging up early would make
                    # marimo interrupt the kernel.
                    async for chunk in response.aiter_bytes():
                        for event in parser.feed(chunk):
                            take(event)
                    for event in parser.close():
                        take(event)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise MarimoTimeoutError(
                f"code mode ran past {limit:g}s; the kernel was interrupted"
            ) from exc
        except httpx2.TimeoutException as exc:
            raise MarimoTimeoutError(f"code mode stalled past {limit:g}s") from exc
        except httpx2.TransportError as exc:
            raise MarimoNotRunningError(f"marimo went away during execute: {exc}") from exc
        if done is None:
            raise MarimoNotRunningError("execute stream ended without a result")
        output = done.get("output") or None
        return ExecuteResult(
            success=bool(done.get("success")),
            output=Output(str(output.get("mimetype", "")), str(output.get("data", "")))
            if isinstance(output, dict)
            else None,
            stdout="".join(stdout),
            stderr="".join(stderr),
        )

    async def _run_edit(self, code: str, marker: str, timeout: float | None) -> ApplyResult:
        result = await self.execute(code, timeout)
        payload = program.find_result(result.stdout, marker)
        stdout = program.strip_results(result.stdout, marker)
        if payload is None:
            raise CodeModeError(
                "code mode printed no result: " + _last_line(result.stderr),
                applied=False,
                stdout=stdout,
                stderr=result.stderr,
            )
        if not payload.get("ok"):
            kind = payload.get("error")
            if kind == "not_found":
                raise CellNotFoundError(str(payload.get("target")))
            if kind == "conflict":
                raise CellConflictError(str(payload.get("target")), str(payload.get("code")))
            raise CodeModeError(
                str(payload.get("message") or kind),
                applied=False,
                stdout=stdout,
                stderr=result.stderr,
                error_type=payload.get("type"),
            )
        created = tuple(str(c) for c in payload.get("created") or ())
        if not result.success:
            # The batch was applied and saved; a cell it ran raised.
            raise CodeModeError(
                "a cell raised: " + _last_line(result.stderr),
                applied=True,
                stdout=stdout,
                stderr=result.stderr,
                cell_ids=created,
            )
        summary = tuple(line for line in stdout.splitlines() if _SUMMARY_LINE.match(line))
        return ApplyResult(created=created, summary=summary, stdout=stdout, stderr=result.stderr)

    async def apply(self, ops: Sequence[Op], *, timeout: float | None = None) -> ApplyResult:
        """Apply several operations atomically (one code-mode batch): either all are
        applied (and saved to the file) or, on a validation error, none."""
        if not ops:
            return ApplyResult(created=(), summary=(), stdout="", stderr="")
        marker = program.new_marker()
        return await self._run_edit(program.edit_program(ops, marker), marker, timeout)

    async def create_cell(
        self,
        code: str,
        *,
        after: Target | None = None,
        before: Target | None = None,
        name: str | None = None,
        run: bool = True,
        timeout: float | None = None,
    ) -> str:
        """Add a cell (at the end unless placed); its new id."""
        op = CreateCell(code, after=after, before=before, name=name, run=run)
        return (await self.apply([op], timeout=timeout)).created[0]

    async def edit_cell(
        self,
        cell_id: str,
        code: str,
        *,
        run: bool = True,
        expected_code: str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Replace a cell's code. With `expected_code`, refuse (CellConflictError) when
        the cell no longer has that code, e.g. the person edited it meanwhile."""
        op = EditCell(cell_id, code=code, run=run, expected_code=expected_code)
        await self.apply([op], timeout=timeout)

    async def move_cell(
        self,
        cell_id: str,
        *,
        after: str | None = None,
        before: str | None = None,
        timeout: float | None = None,
    ) -> None:
        await self.apply([MoveCell(cell_id, after=after, before=before)], timeout=timeout)

    async def delete_cells(self, cell_ids: Sequence[str], *, timeout: float | None = None) -> None:
        await self.apply([DeleteCell(c) for c in cell_ids], timeout=timeout)

    async def run_cells(self, cell_ids: Sequence[str], *, timeout: float | None = None) -> None:
        await self.apply([RunCell(c) for c in cell_ids], timeout=timeout)

    async def run_stale(self, *, timeout: float | None = None) -> None:
        """Run every stale cell (edited since its last run, or never run)."""
        await self.apply([RunStale()], timeout=timeout)

    async def replace_cells(
        self,
        cells: Sequence[tuple[str, str | None]],
        *,
        run: bool = True,
        timeout: float | None = None,
    ) -> list[str]:
        """Replace the whole notebook with `cells` (code, name) in one batch (undo,
        replace-notebook); the new cells' ids in order."""
        marker = program.new_marker()
        code = program.replace_program(cells, run=run, marker=marker)
        return list((await self._run_edit(code, marker, timeout)).created)

    async def read_cells(
        self, *, max_output_chars: int = 2000, timeout: float | None = None
    ) -> list[CellSnapshot]:
        """Every cell as the browser's document has it, with status, errors, and clipped
        outputs. Outputs come from the last completed run: cells run by an edit show their
        new outputs here (a separate code-mode call), never within that edit's call."""
        marker = program.new_marker()
        result = await self.execute(program.read_program(marker, limit=max_output_chars), timeout)
        payload = program.find_result(result.stdout, marker)
        if payload is None or not payload.get("ok"):
            raise CodeModeError(
                "reading cells failed: " + _last_line(result.stderr),
                applied=False,
                stdout=result.stdout,
                stderr=result.stderr,
            )
        return [_snapshot(cell) for cell in payload.get("cells") or ()]

    # ------------------------------------------------------------------ other kernel calls

    async def read_code(self) -> str:
        """The notebook file's text as marimo has it (`/api/kernel/read_code`)."""
        data = await self._session_call("POST", "/api/kernel/read_code")
        return str(data.get("contents", ""))

    async def interrupt(self) -> None:
        await self._session_call("POST", "/api/kernel/interrupt")

    async def format(self, codes: Mapping[str, str], line_length: int = 79) -> dict[str, str]:
        """Format cell codes with marimo's formatter (ruff). Keys are any ids; a code
        ruff cannot parse is left out of the reply."""
        data = await self._session_call(
            "POST", "/api/kernel/format", body={"codes": dict(codes), "lineLength": line_length}
        )
        return {str(k): str(v) for k, v in (data.get("codes") or {}).items()}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no detail"


def _snapshot(cell: Mapping[str, Any]) -> CellSnapshot:
    output = cell.get("output")
    name = cell.get("name") or None
    return CellSnapshot(
        cell_id=str(cell["id"]),
        # Cells loaded from the file are `def _(...)`: marimo reports the name "_".
        name=None if name == "_" else name,
        code=str(cell.get("code", "")),
        status=cell.get("status"),
        errors=tuple(str(e) for e in cell.get("errors") or ()),
        output=CellOutput(
            mimetype=str(output["mimetype"]),
            data=str(output["data"]),
            truncated=bool(output["truncated"]),
        )
        if output
        else None,
        console=tuple(
            ConsoleOutput(str(c["channel"]), str(c["data"]), bool(c["truncated"]))
            for c in cell.get("console") or ()
        ),
        hide_code=bool(cell.get("hide_code")),
        disabled=bool(cell.get("disabled")),
    )
