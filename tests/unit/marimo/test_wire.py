"""The Wire, Hexa's HTTP/1.1 client to marimo.

Real parts: real TCP connections on loopback to a small asyncio server of the test's own,
which answers each request the way the test scripts it (whole, chunked in steps the test
releases, closing early, never). Real marimo over the Wire is in tests/integration/marimo.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from hexa.marimo import wire as wire_module
from hexa.marimo.client import MarimoClient
from hexa.marimo.errors import MarimoNotRunningError, MarimoTimeoutError
from hexa.marimo.wire import (
    Wire,
    WireClosedError,
    WireConnectError,
    WireError,
    WireTimeoutError,
)

# (request number on this connection, the request head and body, writer) -> keep going?
Answer = Callable[[int, str, bytes, asyncio.StreamWriter], Awaitable[bool]]


@dataclass
class Server:
    answer: Answer
    connections: int = 0
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    port: int = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            for number in range(100):
                try:
                    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                except asyncio.IncompleteReadError:
                    self.hung_up.set()
                    return
                length = 0
                for line in head.split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append((head, body))
                if not await self.answer(number, head, body, writer):
                    return
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serving(answer: Answer) -> AsyncIterator[Server]:
    server = Server(answer)
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


def reply(body: bytes, *extra: str) -> bytes:
    head = [b"HTTP/1.1 200 OK", b"Content-Type: application/json"]
    head += [f"Content-Length: {len(body)}".encode(), *(h.encode() for h in extra)]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def echo(number: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(reply(json.dumps({"n": number, "line": head.split("\r\n")[0]}).encode()))
    await writer.drain()
    return True


@pytest.fixture
async def wire() -> AsyncIterator[Wire]:
    wire = Wire()
    yield wire
    await wire.aclose()


async def test_a_reply_is_read_whole_and_its_connection_kept(wire: Wire) -> None:
    async with serving(echo) as server:
        first = await wire.request(
            "POST",
            f"{server.url}/nb/x/api/kernel/execute?a=1",
            headers={"Authorization": "Bearer t"},
            body=b'{"code": "1"}',
            timeout=5,
        )
        second = await wire.request("GET", f"{server.url}/health", headers={}, timeout=5)
    assert first.status_code == 200
    assert first.json() == {"n": 0, "line": "POST /nb/x/api/kernel/execute?a=1 HTTP/1.1"}
    assert second.json()["n"] == 1  # the second request on the same connection
    assert server.connections == 1
    head, body = server.requests[0]
    assert f"Host: 127.0.0.1:{server.port}" in head
    assert "Authorization: Bearer t" in head
    assert body == b'{"code": "1"}'


async def test_a_chunked_reply_streams_as_it_is_sent(wire: Wire) -> None:
    later = asyncio.Event()

    async def in_two_steps(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await later.wait()
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async with serving(in_two_steps) as server:
        got = await wire.request("POST", server.url, headers={}, body=b"", timeout=5, stream=True)
        pieces = []
        async for piece in got.aiter_bytes():
            pieces.append(piece)
            later.set()  # the first piece came before the server sent the second
        again = await wire.request("GET", server.url, headers={}, timeout=5, stream=True)
        await again.aclose()
    assert pieces == [b"first", b"second"]
    assert server.connections == 1  # read to its end, the connection was reused


async def test_a_pooled_connection_the_server_closed_is_replaced_once(wire: Wire) -> None:
    async def closes_on_second(
        n: int, head: str, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if n == 1:
            return False  # closes as the next request arrives, as an idle timeout can
        return await echo(n, head, body, writer)

    async with serving(closes_on_second) as server:
        await wire.request("GET", server.url, headers={}, timeout=5)
        again = await wire.request("GET", server.url, headers={}, timeout=5)
    assert again.json()["n"] == 0  # answered on a fresh connection
    assert server.connections == 2


async def test_a_fresh_connection_closed_without_a_reply_fails(wire: Wire) -> None:
    async def never(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async with serving(never) as server:
        with pytest.raises(WireClosedError):
            await wire.request("GET", server.url, headers={}, timeout=5)
    assert server.connections == 1


async def test_a_reply_that_stops_coming_times_out_and_hangs_up(wire: Wire) -> None:
    async def stalls(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        return True  # reads the next request (none comes) instead of answering

    async with serving(stalls) as server:
        with pytest.raises(WireTimeoutError):
            await wire.request("GET", server.url, headers={}, timeout=0.2)
        await server.hung_up.wait()


async def test_closing_an_unread_reply_hangs_up_and_drops_the_connection(wire: Wire) -> None:
    async def headers_only(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        await writer.drain()
        return True

    async with serving(headers_only) as server:
        got = await wire.request("GET", server.url, headers={}, timeout=5, stream=True)
        await got.aclose()
        await server.hung_up.wait()  # marimo interrupts an execute it was streaming
        await (await wire.request("GET", server.url, headers={}, timeout=5, stream=True)).aclose()
    assert server.connections == 2


async def test_a_reply_saying_close_is_not_pooled(wire: Wire) -> None:
    async def then_close(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(reply(b"{}", "Connection: close"))
        await writer.drain()
        return False

    async with serving(then_close) as server:
        await wire.request("GET", server.url, headers={}, timeout=5)
        await wire.request("GET", server.url, headers={}, timeout=5)
    assert server.connections == 2


async def test_bad_requests_are_refused_before_sending(wire: Wire) -> None:
    async with serving(echo) as server:
        with pytest.raises(WireError, match="line break"):
            await wire.request("GET", server.url, headers={"X": "a\r\nEvil: 1"}, timeout=5)
        with pytest.raises(WireError, match="only http://"):
            await wire.request("GET", f"https://127.0.0.1:{server.port}", headers={}, timeout=5)
    assert server.connections == 0


async def test_nothing_listening_is_refused(wire: Wire) -> None:
    async with serving(echo) as server:
        url = server.url
    with pytest.raises(WireConnectError):
        await wire.request("GET", url, headers={}, timeout=5)


async def test_the_marimo_client_maps_wire_failures_to_marimo_errors(wire: Wire) -> None:
    async def stalls(n: int, head: str, body: bytes, writer: asyncio.StreamWriter) -> bool:
        return True

    async with serving(stalls) as server:
        client = MarimoClient(server.url, "token", wire, request_timeout=0.2)
        with pytest.raises(MarimoTimeoutError):
            await client.status()
        url = server.url
    client = MarimoClient(url, "token", wire)
    assert await client.health() is False
    with pytest.raises(MarimoNotRunningError, match="refused"):
        await client.status()


def test_an_interim_reply_is_skipped() -> None:
    """A 100 or 103 read on its own is not the reply: the parser waits for the real one."""
    sink = wire_module._Sink()
    sink.parser.feed_data(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert (sink.headers_done, sink.complete) == (False, False)
    sink.parser.feed_data(reply(b"{}"))
    assert (sink.status, sink.headers_done, sink.complete) == (200, True, True)
    assert sink.keep_alive


async def test_idle_connections_to_a_stopped_server_are_closed(
    wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    """marimo never closes an idle connection itself; a culled notebook's must not stay."""
    monkeypatch.setattr(wire_module, "_SWEEP_EVERY", 0.0)

    async def answers_then_closes(
        n: int, head: str, body: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        await echo(n, head, body, writer)
        return False  # as a stopped server's sockets close

    async with serving(answers_then_closes) as gone, serving(echo) as alive:
        await wire.request("GET", gone.url, headers={}, timeout=5)
        # A round trip elsewhere sees the stopped server's end of the connection first.
        await wire.request("GET", alive.url, headers={}, timeout=5)
        await wire.request("GET", alive.url, headers={}, timeout=5)
        idle = {port for _, port in wire._idle}
    assert idle == {alive.port}
