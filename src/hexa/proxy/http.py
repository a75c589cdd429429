"""Streaming HTTP forwarding to a notebook's marimo."""

from __future__ import annotations

import logging

import httpx2
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from hexa.errors import UpstreamError
from hexa.proxy.headers import request_headers, response_headers

logger = logging.getLogger(__name__)


_REPEATABLE = frozenset({"GET", "HEAD", "OPTIONS"})


class HttpProxy:
    """Forwards a request as is, both bodies streamed (so SSE is never buffered)."""

    def __init__(self, http: httpx2.AsyncClient, *, hexa_cookie: str) -> None:
        self._http = http
        self._cookie = hexa_cookie

    async def forward(self, request: Request, *, origin: str, token: str) -> Response:
        """Send `request` to `origin` (e.g. http://127.0.0.1:4321) keeping its path."""
        url = origin + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = request_headers(request.headers.items(), token=token, hexa_cookie=self._cookie)
        # A request without a body may be sent again: a pooled connection that marimo
        # closed while it sat idle fails on first use, and that is not the person's fault.
        attempts = 2 if request.method in _REPEATABLE else 1
        for attempt in range(attempts):
            body = request.stream() if request.method not in _REPEATABLE else None
            upstream = self._http.build_request(request.method, url, headers=headers, content=body)
            try:
                reply = await self._http.send(upstream, stream=True, follow_redirects=False)
                break
            except httpx2.TimeoutException as exc:
                raise UpstreamError("the notebook's marimo did not answer in time") from exc
            except httpx2.TransportError as exc:
                if attempt + 1 < attempts:
                    logger.info("retrying %s %s after %r", request.method, url, exc)
                    continue
                raise UpstreamError(f"the notebook's marimo is not reachable: {exc!r}") from exc
        return StreamingResponse(
            reply.aiter_raw(),
            status_code=reply.status_code,
            headers=dict(response_headers(reply.headers.multi_items(), upstream_origin=origin)),
            background=BackgroundTask(reply.aclose),
        )
