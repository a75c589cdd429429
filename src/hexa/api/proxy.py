"""/nb/{notebook_id}/...: marimo's own UI, through Hexa, for the notebook's owner only."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, WebSocket
from fastapi.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from hexa.api.deps import CurrentUser, ServicesDep, authenticate, services
from hexa.api.schemas import NotebookId
from hexa.errors import HexaError
from hexa.marimo.frames import is_resume_banner
from hexa.marimo.saves import SAVE_PATH, WRITE_PATHS
from hexa.proxy import websocket as ws_relay
from hexa.proxy.assets import asset_response
from hexa.proxy.http import HttpProxy

router = APIRouter(include_in_schema=False)

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# marimo's own credentials stay inside Hexa: `auth/token` hands marimo's token to whoever
# asks with a session, and a login form is never needed (Hexa signs every request).
_HIDDEN = frozenset({"auth/token", "auth/login", "auth/logout"})


@router.api_route("/nb/{notebook_id}", methods=_METHODS)
async def without_slash(notebook_id: NotebookId, request: Request) -> Response:
    # marimo would answer with an absolute redirect naming its own port; Hexa answers.
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/nb/{notebook_id}/{query}", status_code=307)


@router.api_route("/nb/{notebook_id}/{path:path}", methods=_METHODS)
async def proxy_http(
    notebook_id: NotebookId, path: str, request: Request, user: CurrentUser, svc: ServicesDep
) -> Response:
    if path.strip("/") in _HIDDEN:
        raise HTTPException(status_code=404, detail="Not Found")
    # Only loading the editor's page starts a stopped notebook; the background requests of
    # a tab left open after a close must not take a slot again.
    page_load = request.method == "GET" and path in ("", "index.html")
    running = await svc.notebooks.running(user, notebook_id, start=page_load)
    body = None
    if request.method == "POST" and (path == SAVE_PATH or path in WRITE_PATHS) and _small(request):
        # The editor's saves and cell writes: see hexa.notebooks.editor_saves.
        saves = svc.notebooks.saves
        body = await saves.editor_request(notebook_id, running.marimo, path, await request.body())
    http_proxy: HttpProxy = request.app.state.http_proxy
    return await http_proxy.forward(
        request, upstream=running.upstream, token=running.token, body=body
    )


# Larger saves (a notebook of megabytes of code) stream through as they are, unmended.
_MENDED_BODY = 1024 * 1024


def _small(request: Request) -> bool:
    length = request.headers.get("content-length", "")
    return length.isdigit() and int(length) <= _MENDED_BODY


@router.websocket("/nb/{notebook_id}/{path:path}")
async def proxy_ws(websocket: WebSocket, notebook_id: str, path: str) -> None:
    svc = services(websocket)
    try:
        user = await authenticate(websocket)
        running = await svc.notebooks.running(user, notebook_id, start=False)
    except HTTPException as exc:
        # Close before accepting: the handshake is answered with 403.
        await websocket.close(code=1008, reason=str(exc.detail)[:120])
        return
    except HexaError as exc:
        await websocket.close(code=1013 if exc.status >= 500 else 1008, reason=exc.message[:120])
        return
    url = running.upstream.url(websocket.url.path, websocket.url.query, websocket=True)
    await ws_relay.relay(
        websocket,
        url,
        token=running.token,
        on_activity=lambda: svc.notebooks.touch(notebook_id),
        drop=is_resume_banner,
    )


def assets_router(directory: Path) -> APIRouter:
    """marimo's content-hashed assets from the installed package (see hexa.proxy.assets)."""
    static = StaticFiles(directory=directory, follow_symlink=True)
    assets = APIRouter(include_in_schema=False)

    @assets.api_route("/nb/{notebook_id}/assets/{path:path}", methods=["GET", "HEAD"])
    async def marimo_asset(
        notebook_id: str, path: str, request: Request, user: CurrentUser
    ) -> Response:
        # Any signed-in user, any id: these bytes are public and say nothing about which
        # notebooks exist.
        return await asset_response(static, path, request)

    return assets
