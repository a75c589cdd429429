"""Sign-in, the web UI, `/create-notebook` and `/{notebook_name}`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from pydantic import BaseModel

from hexa.api.deps import COOKIE, CurrentUser, ServicesDep, same_origin
from hexa.api.errors import allowed_methods
from hexa.api.responses import BODY, errors
from hexa.api.schemas import CreatedNotebook, CreateNotebookRequest, Strict
from hexa.users import SESSION_SECONDS

router = APIRouter()

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
_COOKIE_AGE = SESSION_SECONDS

_FALLBACK_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Hexa</title></head>
<body style="font-family:system-ui;max-width:36rem;margin:4rem auto">
<h1>Hexa</h1><p>The web UI is not built. Run <code>make serve</code>, or use the API at
<a href="/docs">/docs</a>.</p></body></html>"""


class LoginRequest(Strict):
    token: str


class Me(BaseModel):
    name: str
    model: str
    max_notebooks_per_user: int


def _set_cookie(response: Response, secret: str, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        secret,
        max_age=_COOKIE_AGE,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def _index() -> Response:
    index = WEB_DIR / "index.html"
    if index.is_file():
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
    return HTMLResponse(_FALLBACK_PAGE)


@router.get("/", include_in_schema=False)
async def home(request: Request, svc: ServicesDep) -> Response:
    """The web UI. `/?token=...` (the URL `hexa serve` prints) signs in and drops the token."""
    token = request.query_params.get("token")
    if token is not None:
        secret = await svc.users.start_session(token)
        if secret is None:
            return RedirectResponse("/?signin=failed", status_code=303)
        response = RedirectResponse("/", status_code=303)
        _set_cookie(response, secret, request)
        return response
    return _index()


@router.post("/api/auth/login", tags=["auth"], responses=errors(400, 401, 403, 413, 422))
async def login(body: LoginRequest, request: Request, svc: ServicesDep) -> Response:
    """Trade a token for an HttpOnly, SameSite=Strict cookie of a server-side session
    (it survives restarts of Hexa; signing out or rotating the token revokes it)."""
    if request.headers.get("origin") and not same_origin(request):
        raise HTTPException(403, "cross-origin request refused (Origin check)")
    secret = await svc.users.start_session(body.token)
    if secret is None:
        raise HTTPException(401, "invalid token")
    response = Response(status_code=204)
    _set_cookie(response, secret, request)
    return response


@router.post("/api/auth/logout", tags=["auth"], status_code=204, responses=errors(403))
async def logout(request: Request, svc: ServicesDep) -> Response:
    """End this browser's session (others of the same user stay signed in)."""
    if request.headers.get("origin") and not same_origin(request):
        raise HTTPException(403, "cross-origin request refused (Origin check)")
    secret = request.cookies.get(COOKIE)
    if secret:
        await svc.users.end_session(secret)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/api/me", response_model=Me, tags=["auth"], responses=errors(401))
async def me(user: CurrentUser, svc: ServicesDep) -> Me:
    settings = svc.settings
    return Me(
        name=user.name,
        model=settings.model,
        max_notebooks_per_user=settings.max_notebooks_per_user,
    )


@router.post(
    "/create-notebook",
    response_model=CreatedNotebook,
    tags=["notebooks"],
    responses=errors(*BODY, 409),
)
async def create_notebook_from_content(
    body: CreateNotebookRequest, user: CurrentUser, svc: ServicesDep
) -> CreatedNotebook:
    """Save notebook text (e.g. written by an LLM) under a new id; 422 with marimo's
    diagnostics when marimo cannot read it."""
    view = await svc.notebooks.create_from_text(user, body.content, name=body.name)
    return CreatedNotebook(
        notebook_id=view.notebook_id, name=view.name, path=view.path, url=view.url
    )


@router.get("/{notebook_name}", include_in_schema=False)
async def render_notebook(
    notebook_name: str, request: Request, user: CurrentUser, svc: ServicesDep
) -> Response:
    """Open a notebook by name (or id) in its editor, starting it when needed."""
    # `GET /create-notebook` is a wrong method on a route, not a notebook of that name.
    if allowed := allowed_methods(request.app, request.url.path) - {"GET", "HEAD"}:
        raise HTTPException(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
    view = await svc.notebooks.find_by_name(user, notebook_name)
    await svc.notebooks.running(user, view.notebook_id)
    return RedirectResponse(view.url, status_code=303)
