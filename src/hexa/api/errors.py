"""One error shape, `{"detail": ...}`, with the right status; never a bare 500 for bad input."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from hexa.errors import HexaError

logger = logging.getLogger(__name__)


def allowed_methods(app: Starlette, path: str) -> set[str]:
    """The methods served at `path` by its most specific routes: those with the fewest
    parameters (`/api/notebooks/open` before `/api/notebooks/{notebook_id}`)."""
    by_params: dict[int, set[str]] = {}
    for route in _api_routes(app.routes):
        if "{notebook_name}" in route.path or not route.path_regex.fullmatch(path):
            continue
        by_params.setdefault(route.path.count("{"), set()).update(route.methods or ())
    return by_params[min(by_params)] if by_params else set()


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    # Included routers keep their routes on the router they came from (FastAPI >= 0.160).
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            yield from _api_routes(inner.routes)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HexaError)
    async def hexa_error(request: Request, exc: HexaError) -> JSONResponse:
        headers = {"Retry-After": "30"} if exc.status == 429 else {}
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route whose path matched; a
            # path served by several routes (GET and POST /api/notebooks) has them all.
            methods = allowed_methods(request.app, request.url.path)
            if methods:
                headers["Allow"] = ", ".join(sorted(methods))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(UnicodeEncodeError)
    async def not_unicode(request: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON may carry a lone surrogate (`"\ud800"`), which no file or database takes.
        return JSONResponse(
            {"detail": "text must be valid Unicode: a lone surrogate cannot be stored"},
            status_code=400,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, status_code=500)
