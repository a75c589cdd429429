"""HTTP/1.1 to marimo servers over asyncio streams, parsed by httptools (uvicorn's C parser).

Every cell Hexa runs and every read it makes is a request to marimo on plain HTTP, and
Hexa's one event loop serves everyone: httpx2 spent about 0.7 ms of CPU on a code-mode
call (its request model, anyio streams, h11 in Python) where this spends about 0.1 ms.
It does only what marimo needs: `http://` URLs, keep-alive connections pooled per server,
replies with a length or chunked, read whole or as they stream. No cookies are kept (see
`transport.make_http_client` for why that matters), no proxies, no redirects.

Errors are this module's own (`WireError`); `transport.Connection` maps them to marimo's.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httptools

__all__ = [
    "Reply",
    "Wire",
    "WireClosedError",
    "WireConnectError",
    "WireError",
    "WireReply",
    "WireTimeoutError",
]

# marimo's uvicorn keeps an idle connection open for good, so Hexa closes its own: one
# idle this long is closed at the next sweep (a stopped server's too, at once, from its
# EOF), so culled notebooks leave no sockets behind.
IDLE_SECONDS = 30.0
_SWEEP_EVERY = 1.0
_IDLE_PER_SERVER = 8
_READ_SIZE = 65536


class WireError(Exception):
    """A request to marimo failed below HTTP."""


class WireConnectError(WireError):
    """Nothing accepted the connection (the server is not, or no longer, listening)."""


class WireTimeoutError(WireError):
    """Connecting, or waiting for the next bytes of a reply, took longer than allowed."""


class WireClosedError(WireError):
    """The connection closed, or broke the protocol, before the reply was whole."""


class Reply(Protocol):
    """What Hexa reads of a reply to marimo; httpx2.Response has it too (tests' fakes)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    def json(self) -> Any: ...
    def aiter_bytes(self) -> AsyncIterator[bytes]: ...
    async def aread(self) -> bytes: ...
    async def aclose(self) -> None: ...


class _Sink:
    """httptools' callbacks: the reply's status and body as it is parsed (no caller reads
    a reply's headers, so they are not collected)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.chunks: collections.deque[bytes] = collections.deque()
        self.headers_done = False
        self.status = 0
        self.keep_alive = False
        self.complete = False

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim reply (100 Continue, 103): the real one follows
            return
        self.status, self.headers_done = status, True
        # Read here: once the message is complete the parser has reset and says False.
        self.keep_alive = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(bytes(body))

    def on_message_complete(self) -> None:
        self.complete = self.headers_done


class _Conn:
    def __init__(
        self, key: tuple[str, int], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.key = key
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0
        self.received = False  # any byte of the current reply

    def usable(self, now: float) -> bool:
        fresh = now - self.idle_since < IDLE_SECONDS
        return fresh and not self.reader.at_eof() and not self.writer.is_closing()

    async def fill(self, parser: httptools.HttpResponseParser, timeout: float | None) -> None:
        """Read what has come and parse it; raise if the connection ended instead."""
        try:
            async with asyncio.timeout(timeout):
                data = await self.reader.read(_READ_SIZE)
        except TimeoutError as exc:
            raise WireTimeoutError(f"no reply within {timeout:g} s") from exc
        except OSError as exc:
            raise WireClosedError(f"connection broke: {exc}") from exc
        if not data:
            raise WireClosedError("marimo closed the connection before its reply ended")
        self.received = True
        try:
            parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            raise WireClosedError(f"malformed reply: {exc!r}") from exc

    def close(self) -> None:
        self.writer.close()


class WireReply:
    """One reply; its connection goes back to the pool once the body has been read."""

    def __init__(
        self,
        wire: Wire,
        conn: _Conn,
        sink: _Sink,
        timeout: float | None,
    ) -> None:
        self._wire = wire
        self._conn: _Conn | None = conn
        self._sink = sink
        self._timeout = timeout
        self.status_code: int = sink.status
        self._body: bytes | None = None

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """The body as it arrives (each piece once; `aread` gives what is left)."""
        sink = self._sink
        while True:
            while sink.chunks:
                yield sink.chunks.popleft()
            if sink.complete:
                break
            if self._conn is None:
                raise WireClosedError("the reply was closed before it was read")
            try:
                await self._conn.fill(sink.parser, self._timeout)
            except BaseException:
                self._drop()
                raise
        self._release()

    async def aread(self) -> bytes:
        if self._body is None:
            self._body = b"".join([chunk async for chunk in self.aiter_bytes()])
        return self._body

    @property
    def content(self) -> bytes:
        if self._body is None:
            raise RuntimeError("the body has not been read: await aread() first")
        return self._body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)

    async def aclose(self) -> None:
        """A reply left unread hangs up (marimo interrupts an execute it was streaming)."""
        if not self._sink.complete:
            self._drop()
        self._release()

    def _release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._wire._put_back(conn, keep=self._sink.keep_alive)

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Wire:
    """A pool of keep-alive connections to marimo servers, shared by every notebook."""

    def __init__(self, *, connect_timeout: float = 5.0) -> None:
        self._connect_timeout = connect_timeout
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._swept = 0.0
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeout: float | None,
        stream: bool = False,
    ) -> WireReply:
        """Send one request; the reply's headers are read, and its body too unless
        `stream`. `timeout` bounds connecting and each wait for more of the reply."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise WireError(f"only http:// URLs reach marimo here, not {url!r}")
        if method == "HEAD":  # its reply's length describes no body: not parsed here
            raise WireError("HEAD requests are not supported")
        key = (parts.hostname, parts.port or 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        head = _head(method, target, parts.netloc, headers, body)
        # A pooled connection the server has just closed fails before marimo reads the
        # request: that (only that) is tried again once, on a fresh connection.
        for attempt in range(2):
            conn = self._pooled(key) if attempt == 0 else None
            reused = conn is not None
            if conn is None:
                conn = await self._connect(key, timeout)
            sink = _Sink()
            conn.received = False
            try:
                conn.writer.write(head if body is None else head + body)
                try:
                    async with asyncio.timeout(timeout):
                        await conn.writer.drain()
                except TimeoutError as exc:
                    raise WireTimeoutError(f"marimo took no request within {timeout:g} s") from exc
                while not sink.headers_done:
                    await conn.fill(sink.parser, timeout)
            except (WireClosedError, OSError) as exc:
                conn.close()
                if reused and not conn.received:
                    continue
                if isinstance(exc, WireClosedError):
                    raise
                raise WireClosedError(f"connection broke: {exc}") from exc
            except BaseException:
                conn.close()  # timed out or cancelled mid-request: the reply is lost
                raise
            reply = WireReply(self, conn, sink, timeout)
            if not stream:
                await reply.aread()
            return reply
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self._closed = True
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()

    def _pooled(self, key: tuple[str, int]) -> _Conn | None:
        now = time.monotonic()
        self._sweep(now)
        conns = self._idle.get(key)
        while conns:
            conn = conns.pop()
            if conn.usable(now):
                return conn
            conn.close()
        return None

    def _sweep(self, now: float) -> None:
        """Close idle connections gone stale or whose server has gone (at most once a
        second: every idle connection is looked at)."""
        if now - self._swept < _SWEEP_EVERY:
            return
        self._swept = now
        for key, conns in list(self._idle.items()):
            for conn in [c for c in conns if not c.usable(now)]:
                conns.remove(conn)
                conn.close()
            if not conns:
                del self._idle[key]

    async def _connect(self, key: tuple[str, int], timeout: float | None) -> _Conn:
        limit = self._connect_timeout if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_connection(*key, limit=_READ_SIZE)
        except TimeoutError as exc:
            raise WireTimeoutError(f"connecting to {key[0]}:{key[1]} took {limit:g} s") from exc
        except OSError as exc:
            raise WireConnectError(f"{key[0]}:{key[1]} refused: {exc}") from exc
        return _Conn(key, reader, writer)

    def _put_back(self, conn: _Conn, *, keep: bool) -> None:
        now = time.monotonic()
        self._sweep(now)
        conns = self._idle.setdefault(conn.key, [])
        if not keep or self._closed or len(conns) >= _IDLE_PER_SERVER or conn.writer.is_closing():
            conn.close()
            if not conns:
                del self._idle[conn.key]
            return
        conn.idle_since = now
        conns.append(conn)


def _head(
    method: str, target: str, host: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    given = {name.lower() for name in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"Host: {host}"] if "host" not in given else []
    lines += ["Accept: */*"] if "accept" not in given else []
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n\0"):
            raise WireError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}")
    try:
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError as exc:
        raise WireError(f"a header is not latin-1: {exc}") from exc
