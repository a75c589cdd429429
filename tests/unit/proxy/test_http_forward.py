"""HttpProxy against a real HTTP/1.1 upstream on loopback that fails the way marimo's
server does: after a handler error it answers 500 and then drops the kept-alive
connection, so the next request sent down it gets no answer.

Real: the proxy, httpx's connection pool, sockets. Fake: the upstream (a failure mode)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hexa.errors import UpstreamError
from hexa.proxy.http import HttpProxy
from hexa.proxy.upstream import Upstream


@dataclass
class DroppingUpstream:
    """Answers each connection's first request; a first request for `/fail` gets a 500, and
    that connection's next request is read and dropped unanswered."""

    port: int = 0
    received: list[tuple[int, str, bytes]] = field(default_factory=list)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = self.connections
        failed = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                body = await read_body(reader, [h.lower() for h in lines[1:]])
                self.received.append((conn, path, body))
                if failed:
                    return  # dropped: the request was read, never answered
                status = b"500 Internal Server Error" if path == "/fail" else b"200 OK"
                failed = path == "/fail"
                writer.write(
                    b"HTTP/1.1 "
                    + status
                    + b"\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def read_body(reader: asyncio.StreamReader, headers: list[str]) -> bytes:
    if "transfer-encoding: chunked" in headers:
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += await reader.readexactly(size)
            await reader.readexactly(2)
        await reader.readexactly(2)
        return body
    lengths = [int(h.split(":")[1]) for h in headers if h.startswith("content-length:")]
    return await reader.readexactly(lengths[0] if lengths else 0)


@asynccontextmanager
async def proxied() -> AsyncIterator[tuple[httpx2.AsyncClient, DroppingUpstream]]:
    upstream = DroppingUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
    upstream.port = server.sockets[0].getsockname()[1]
    pool = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=1))
    proxy = HttpProxy(pool, hexa_cookie="hexa_session")

    async def forward(request: Request) -> Response:
        origin = f"http://127.0.0.1:{upstream.port}"
        return await proxy.forward(request, upstream=Upstream("x", origin, "", None), token="t")

    app = Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app), base_url="http://hexa")
    try:
        yield client, upstream
    finally:
        await client.aclose()
        await pool.aclose()
        server.close()
        await server.wait_closed()


async def test_a_post_after_an_error_answer_is_sent_again_on_a_new_connection() -> None:
    async with proxied() as (client, upstream):
        failed = await client.post("/fail", content=b'{"path": "/no/such"}')
        assert failed.status_code == 500
        listing = await client.post("/list", content=b'{"path": "/"}')
        assert listing.status_code == 200
        assert listing.content == b'{"path": "/"}'
        # Sent twice: dropped unread on the first connection, answered on a second one.
        assert upstream.received == [
            (1, "/fail", b'{"path": "/no/such"}'),
            (1, "/list", b'{"path": "/"}'),
            (2, "/list", b'{"path": "/"}'),
        ]


async def test_a_streamed_body_is_never_sent_twice() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"big"

    async with proxied() as (client, upstream):
        assert (await client.post("/fail", content=b"x")).status_code == 500
        # No content-length: the proxy streams the body and cannot repeat it.
        with pytest.raises(UpstreamError, match="not reachable"):
            await client.post("/list", content=chunks())
        assert [path for _, path, _ in upstream.received] == ["/fail", "/list"]
