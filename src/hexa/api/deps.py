"""Request dependencies: the services on app.state, and who is asking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from starlette.requests import HTTPConnection

from hexa.agent.service import AgentService
from hexa.config import Settings
from hexa.notebooks.cells import CellService
from hexa.notebooks.new_notebooks import GenerationService
from hexa.notebooks.service import NotebookService
from hexa.users import Principal, UserService

# The browser's cookie holds a server-side session's secret, never the user's token.
COOKIE = "hexa_session"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Services:
    """Everything the routers may call, built by the lifespan."""

    settings: Settings
    users: UserService
    notebooks: NotebookService
    cells: CellService
    generation: GenerationService
    agent: AgentService


def services(conn: HTTPConnection) -> Services:
    svc: Services = conn.app.state.services
    return svc


def bearer_or_cookie(conn: HTTPConnection) -> tuple[str | None, bool]:
    """The presented token (or, from the cookie, session secret) and whether it came
    from the cookie."""
    header = conn.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = conn.cookies.get(COOKIE)
    if cookie:
        return cookie, True
    return None, False


def same_origin(conn: HTTPConnection) -> bool:
    """Origin (or Referer) names this server: the CSRF and cross-site WebSocket check."""
    origin = conn.headers.get("origin") or conn.headers.get("referer")
    if not origin:
        return False
    host = conn.headers.get("host", "")
    return urlsplit(origin).netloc == host


async def authenticate(conn: HTTPConnection) -> Principal:
    token, from_cookie = bearer_or_cookie(conn)
    if token is None:
        raise HTTPException(
            401,
            "missing token: send 'Authorization: Bearer <token>' or sign in",
            headers={"WWW-Authenticate": "Bearer"},
        )
    users = services(conn).users
    user = await (users.session_user(token) if from_cookie else users.authenticate(token))
    if user is None:
        detail = "signed out: sign in again" if from_cookie else "invalid token"
        raise HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})
    if from_cookie:
        # A cookie rides along on cross-site requests; only same-origin ones may use it to
        # change state (REST) or open a socket (WebSocket handshakes are always GET).
        method = conn.scope.get("method", "GET") if conn.scope["type"] == "http" else "WS"
        if method not in _SAFE_METHODS and not same_origin(conn):
            raise HTTPException(403, "cross-origin request refused (Origin check)")
    return user


async def current_user(request: Request) -> Principal:
    return await authenticate(request)


CurrentUser = Annotated[Principal, Depends(current_user)]
ServicesDep = Annotated[Services, Depends(services)]
