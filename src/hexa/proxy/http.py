"""Streaming HTTP forwarding to a notebook's marimo."""

from __future__ import annotations

import logging

import httpx2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hexa.errors import UpstreamError
from hexa.proxy.headers import request_headers, response_headers
from hexa.proxy.upstream import Upstream

logger = logging.getLogger(__name__)


_REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS"})
# Bodies up to this size are read before sending so that they can be sent again; marimo's
# API bodies are small JSON, file uploads above it stream through.
_BUFFERED_BODY = 1024 * 1024
# Failures that leave no answer at all. Timeouts are not among them: marimo may still be
# working on the request.
_NO_ANSWER = (httpx2.ConnectError, httpx2.ReadError, httpx2.WriteError, httpx2.RemoteProtocolError)


class HttpProxy:
    """Forwards a request as is, both bodies streamed (so SSE is never buffered)."""

    def __init__(self, http: httpx2.AsyncClient, *, hexa_cookie: str) -> None:
        self._http = http
        self._cookie = hexa_cookie

    async def forward(
        self, request: Request, *, upstream: Upstream, token: str, body: bytes | None = None
    ) -> Response:
        """Send `request` to the notebook's marimo, at the path that `upstream` maps it to;
        with `body` in place of its own when given."""
        url = upstream.url(request.url.path, request.url.query)
        headers = request_headers(request.headers.items(), token=token, hexa_cookie=self._cookie)
        if body is None:
            body = await _replayable_body(request)
        # A request is sent a second time, on a new connection, only when the first got no
        # answer and can be sent again. marimo's server drops a kept-alive connection after
        # a handler fails (it answers 500, then closes), so the next request sent down that
        # pooled connection is reset unread: not the person's fault, and not processed. A
        # marimo that died mid-request refuses the second attempt, which then fails as well.
        attempts = 2 if body is not None else 1
        for attempt in range(attempts):
            content = body if body is not None else request.stream()
            outgoing = self._http.build_request(
                request.method, url, headers=headers, content=content
            )
            try:
                reply = await self._http.send(outgoing, stream=True, follow_redirects=False)
                break
            except httpx2.TimeoutException as exc:
                raise UpstreamError("the notebook's marimo did not answer in time") from exc
            except httpx2.TransportError as exc:
                if attempt + 1 < attempts and isinstance(exc, _NO_ANSWER):
                    logger.info("sending %s %s again after %r", request.method, url, exc)
                    continue
                raise UpstreamError(f"the notebook's marimo is not reachable: {exc!r}") from exc
        return StreamingResponse(
            reply.aiter_raw(),
            status_code=reply.status_code,
            headers=dict(response_headers(reply.headers.multi_items(), relocate=upstream.location)),
            background=BackgroundTask(reply.aclose),
        )


async def _replayable_body(request: Request) -> bytes | None:
    """The whole body when it is small enough to send twice (empty for GET and the like)."""
    if request.method in _REPEATABLE:
        return b""
    length = request.headers.get("content-length")
    if length is None or not length.isdigit() or int(length) > _BUFFERED_BODY:
        return None
    return await request.body()
