"""HTTP transport to one marimo server, and the session ids its requests carry.

`Connection` builds every request itself (Bearer token, no jar cookies, its own timeout),
sends it through Hexa's `Wire` (or an httpx2 client: tests' fakes, the benches), maps
transport failures to Hexa's marimo errors, and keeps the notebook's session: the
stable id Hexa opened, and the ws id marimo currently files that session under, which
`Marimo-Session-Id` and the tools' `session_id` need (research §2-§3).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, TypeVar

import httpx2

from hexa.marimo.errors import (
    MarimoError,
    MarimoNotRunningError,
    MarimoSessionError,
    MarimoTimeoutError,
    error_from_response,
)
from hexa.marimo.models import SessionRef
from hexa.marimo.wire import (
    Reply,
    Wire,
    WireClosedError,
    WireConnectError,
    WireError,
    WireTimeoutError,
)

__all__ = [
    "BROKEN",
    "SESSION_HEADER",
    "STABLE_HEADER",
    "STALLED",
    "Connection",
    "MarimoHTTP",
    "OnConnection",
    "decode",
    "make_http_client",
]

T = TypeVar("T")

SESSION_HEADER = "Marimo-Session-Id"
STABLE_HEADER = "Marimo-Stable-Session-Id"

# What Hexa reaches marimo with: the Wire in production, an httpx2 client where a test
# swaps in a fake transport.
MarimoHTTP = httpx2.AsyncClient | Wire
# Failures while a streamed reply is read, from either.
STALLED = (httpx2.TimeoutException, WireTimeoutError)
BROKEN = (httpx2.TransportError, WireError)


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


def decode(response: Reply) -> Any:
    """A reply's JSON, or its text when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        return response.text


class Connection:
    """Requests to one marimo server, and the ids of the notebook's session.

    `base_url` includes marimo's base path (`http://127.0.0.1:PORT/nb/<id>`). `http` is
    shared and owned by the app; requests never take cookies from a jar.
    `file_key` names the notebook when the server serves a folder (a spare's marimo).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        http: MarimoHTTP,
        *,
        stable_session_id: str | None = None,
        request_timeout: float = 30.0,
        file_key: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.file_key = file_key
        self.token = token
        self.http = http
        self.stable_session_id = stable_session_id
        self.ws_id: str | None = None  # cached current ws id of the stable session
        self.request_timeout = request_timeout
        self.gone_reason: str | None = None
        self._gone = asyncio.Event()

    def abort(self, reason: str) -> None:
        """The notebook's kernel or server is gone: calls still waiting on it end now.

        A kernel that dies inside a server that lives on (one marimo per person) leaves
        marimo's code-mode stream open with nothing to end it: Hexa ends it here."""
        if self.gone_reason is None:
            self.gone_reason = reason
        self._gone.set()

    def require_alive(self) -> None:
        if self.gone_reason is not None:
            raise MarimoNotRunningError(self.gone_reason)

    async def unless_gone(self, work: Awaitable[T]) -> T:
        """`work`'s result, or MarimoNotRunningError the moment the notebook is gone."""
        if self.gone_reason is not None:
            if asyncio.iscoroutine(work):
                work.close()  # never started: not left to warn that it was never awaited
            raise MarimoNotRunningError(self.gone_reason)
        task = asyncio.ensure_future(work)
        gone = asyncio.ensure_future(self._gone.wait())
        finished = False
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
            finished = task.done()
        finally:
            gone.cancel()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})  # a cancel of the caller still propagates
            if not task.cancelled():
                task.exception()  # retrieved whichever way this ends: never logged as lost
        if not finished:  # however the cancelled work ended (a hang-up may raise its own)
            raise MarimoNotRunningError(self.gone_reason or "the notebook is gone")
        return task.result()

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def send(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        auth: bool = True,
        stream: bool = False,
    ) -> Reply:
        merged = {**(self.auth() if auth else {}), **(headers or {})}
        limit = timeout if timeout is not None else self.request_timeout
        if isinstance(self.http, Wire):
            return await self._send_wire(self.http, method, path, body, merged, limit, stream)
        # Built directly (not client.build_request) so no jar cookie is ever attached.
        request = httpx2.Request(
            method,
            f"{self.base_url}{path}",
            json=body,
            headers=merged,
            extensions={"timeout": httpx2.Timeout(limit).as_dict()},
        )
        for attempt in range(2):
            try:
                return await self.http.send(request, stream=stream, follow_redirects=False)
            except httpx2.ConnectError as exc:
                raise MarimoNotRunningError(f"marimo at {self.base_url} refused: {exc}") from exc
            except httpx2.TimeoutException as exc:
                raise MarimoTimeoutError(f"{method} {path} timed out") from exc
            except (httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError) as exc:
                # After an unhandled error (HTTP 500, e.g. an unknown Marimo-Session-Id)
                # uvicorn closes the connection the pool still holds, and the next request
                # on it fails before marimo reads it: one retry on a fresh connection. A
                # dead server then shows up as a refused connection.
                if attempt == 0:
                    continue
                raise MarimoNotRunningError(f"marimo at {self.base_url} went away: {exc}") from exc
            except httpx2.TransportError as exc:
                raise MarimoNotRunningError(f"marimo at {self.base_url}: {exc}") from exc
        raise AssertionError("unreachable")

    async def _send_wire(
        self,
        wire: Wire,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str],
        limit: float,
        stream: bool,
    ) -> Reply:
        if body is not None:
            headers["Content-Type"] = "application/json"
        # As httpx2 encodes `json=`: NaN and infinities refused here, not sent.
        payload = None if body is None else json.dumps(body, allow_nan=False).encode()
        url = f"{self.base_url}{path}"
        try:
            return await wire.request(
                method, url, headers=headers, body=payload, timeout=limit, stream=stream
            )
        except WireConnectError as exc:
            raise MarimoNotRunningError(f"marimo at {self.base_url} refused: {exc}") from exc
        except WireTimeoutError as exc:
            raise MarimoTimeoutError(f"{method} {path} timed out") from exc
        except WireClosedError as exc:
            raise MarimoNotRunningError(f"marimo at {self.base_url} went away: {exc}") from exc
        except WireError as exc:
            raise MarimoNotRunningError(f"marimo at {self.base_url}: {exc}") from exc

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """A request whose reply is decoded, marimo's errors raised as MarimoError."""
        response = await self.send(method, path, body=body, headers=headers, timeout=timeout)
        decoded = decode(response)
        error = error_from_response(response.status_code, decoded)
        if error is not None:
            raise error
        return decoded

    # ------------------------------------------------------------------ session ids

    async def sessions(self) -> list[SessionRef]:
        """`GET /api/sessions`: each session's current ws id and stable id."""
        data = await self.call("GET", "/api/sessions")
        if not isinstance(data, dict):
            raise MarimoError(f"unexpected /api/sessions reply: {data!r}")
        return [
            SessionRef(ws_session_id=ws_id, stable_session_id=info["session_id"], path=info["path"])
            for ws_id, info in data.items()
        ]

    def require_stable(self) -> str:
        if self.stable_session_id is None:
            raise MarimoSessionError("no session: call open_session() first")
        return self.stable_session_id

    async def ws_session_id(self, *, refresh: bool = False) -> str:
        """The ws id the session is currently filed under (it changes when a browser
        resumes the session)."""
        stable = self.require_stable()
        if self.ws_id is not None and not refresh:
            return self.ws_id
        for ref in await self.sessions():
            if ref.stable_session_id == stable:
                self.ws_id = ref.ws_session_id
                return ref.ws_session_id
        self.ws_id = None
        raise MarimoSessionError(f"session {stable} is gone")

    async def session_call(
        self, method: str, path: str, *, body: Any = None, timeout: float | None = None
    ) -> Any:
        """A call that needs `Marimo-Session-Id`; re-resolves the id once if it went stale."""
        for attempt in range(2):
            ws_id = await self.ws_session_id(refresh=attempt > 0)
            try:
                return await self.call(
                    method, path, body=body, headers={SESSION_HEADER: ws_id}, timeout=timeout
                )
            except MarimoSessionError:
                if attempt:
                    raise
        raise AssertionError("unreachable")


class OnConnection:
    """Base of the marimo client's parts: each speaks through one shared `Connection`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
