"""The agent API (DESIGN.md §3): chat, approve, reject, history, audit, undo, and the
notebook's live event stream. Thin: parse, call one AgentService method, serialise."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import anyio
from fastapi import (
    APIRouter,
    FastAPI,
    HTTPException,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.requests import HTTPConnection

from hexa.agent.events import NotebookEvent
from hexa.agent.service import AgentService
from hexa.agent.views import AgentInfo, AuditLog, ChatHistory, ChatReply, UndoResult
from hexa.api.deps import CurrentUser, authenticate, services
from hexa.api.responses import BODY, RUNS, errors
from hexa.api.schemas import NotebookId
from hexa.errors import HexaError, UnavailableError

router = APIRouter(tags=["agent"])

# Row ids are 64-bit signed integers in SQLite and PostgreSQL alike.
MAX_ROW_ID = 2**63 - 1


def agent_service(conn: HTTPConnection) -> AgentService:
    agent = getattr(services(conn), "agent", None)
    if not isinstance(agent, AgentService):
        raise UnavailableError("the agent is not running")
    return agent


# ---------------------------------------------------------------------- bodies


class ChatContext(BaseModel):
    model_config = ConfigDict(extra="allow")

    cell_ids: list[str] = Field(
        default_factory=list, max_length=50, description="Cells the person has selected."
    )


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notebook_id: NotebookId
    message: str = Field(max_length=1_000_000)
    context: ChatContext | None = None


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notebook_id: NotebookId
    approval_id: str = Field(min_length=1, max_length=64)


# ---------------------------------------------------------------------- routes


@router.post("/api/chat", response_model=ChatReply, responses=errors(*BODY, *RUNS))
async def chat(body: ChatRequest, user: CurrentUser, conn: Request) -> ChatReply:
    """One message to the notebook's agent; returns when the turn is done or waits for an
    approval (`pending_approval`). The turn streams on `WS /api/ws/{notebook_id}`."""
    context = body.context.model_dump() if body.context is not None else None
    return await agent_service(conn).chat(user, body.notebook_id, body.message, context)


@router.post("/api/approve", response_model=ChatReply, responses=errors(*BODY, *RUNS))
async def approve(body: DecisionRequest, user: CurrentUser, conn: Request) -> ChatReply:
    """Approve a pending destructive call (once); the turn resumes and its result is returned."""
    return await agent_service(conn).approve(user, body.notebook_id, body.approval_id)


@router.post("/api/reject", response_model=ChatReply, responses=errors(*BODY, *RUNS))
async def reject(body: DecisionRequest, user: CurrentUser, conn: Request) -> ChatReply:
    """Reject a pending destructive call; the model is told and answers."""
    return await agent_service(conn).reject(user, body.notebook_id, body.approval_id)


@router.get(
    "/api/notebooks/{notebook_id}/chat",
    response_model=ChatHistory,
    responses=errors(401, 404, 422),
)
async def chat_history(
    notebook_id: NotebookId,
    user: CurrentUser,
    conn: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
) -> ChatHistory:
    """The notebook's conversation, oldest first, and the approvals still pending."""
    return await agent_service(conn).history(user, notebook_id, limit=limit, after_id=after_id)


@router.get(
    "/api/notebooks/{notebook_id}/audit", response_model=AuditLog, responses=errors(401, 404, 422)
)
async def audit_log(
    notebook_id: NotebookId,
    user: CurrentUser,
    conn: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=0, le=MAX_ROW_ID)] = None,
) -> AuditLog:
    """Every tool call in the notebook, newest first."""
    entries = await agent_service(conn).audit(user, notebook_id, limit=limit, before_id=before_id)
    return AuditLog(notebook_id=notebook_id, entries=entries)


@router.post(
    "/api/notebooks/{notebook_id}/undo",
    response_model=UndoResult,
    responses=errors(400, 401, 403, 422, *RUNS),
)
async def undo(notebook_id: NotebookId, user: CurrentUser, conn: Request) -> UndoResult:
    """Put the cells back as they were before the agent's last turn (not yet undone)."""
    return await agent_service(conn).undo(user, notebook_id)


@router.get("/api/agent", response_model=AgentInfo, responses=errors(401))
async def agent_info(user: CurrentUser, conn: Request) -> AgentInfo:
    """The model in use; for `builtin`, the commands it understands; the tools and tiers."""
    return agent_service(conn).info()


@router.websocket("/api/ws/{notebook_id}")
async def notebook_events(websocket: WebSocket, notebook_id: str) -> None:
    """The notebook's live events as JSON: the agent's (see hexa.agent.events) and marimo's
    own notifications (`{"type": "marimo", "op", "data"}`): each message is one
    `NotebookEvent` of `/openapi.json`. Messages sent are ignored."""
    try:
        user = await authenticate(websocket)
        agent = agent_service(websocket)
        await services(websocket).notebooks.get(user, notebook_id)
    except (HTTPException, HexaError):
        # Refused before the handshake completes: the client sees HTTP 403.
        await websocket.close(code=1008)
        return
    await websocket.accept()
    async with agent.listen(user, notebook_id) as events, anyio.create_task_group() as tasks:

        async def relay() -> None:
            # A send to a client that just left fails: the receive loop below ends too.
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                async for event in events:
                    await websocket.send_text(event.model_dump_json())

        tasks.start_soon(relay)
        # Until the client leaves (what it sends is ignored), then stop relaying.
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass
        tasks.cancel_scope.cancel()


def document_events(app: FastAPI) -> None:
    """List `NotebookEvent` (each message of `WS /api/ws/{notebook_id}`) among
    `/openapi.json`'s schemas, which OpenAPI cannot attach to a WebSocket route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        events = TypeAdapter(NotebookEvent).json_schema(
            mode="serialization", ref_template="#/components/schemas/{model}"
        )
        known = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in events.pop("$defs", {}).items():
            known.setdefault(name, definition)
        known["NotebookEvent"] = events
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
