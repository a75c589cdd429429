"""The OpenAI wire path: `HEXA_MODEL=openai-compatible:<model>` against a small local
stand-in for an OpenAI-compatible server (started by the test on 127.0.0.1), streaming
chat.completions chunks with tool calls, driving the agent over a real marimo."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hexa.agent import AgentService, build_agent_service
from hexa.agent.models import choose_model
from tests.integration.marimo.conftest import wait_file

from .conftest import Setup

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "sk-test-wire-secret-0123456789"

# What the stand-in answers a request body with: a response as is, or SSE lines to stream
# (either of them, for a slow provider, after an await).
Answer = Response | list[str]
Reply = Callable[[dict[str, Any]], Answer | Awaitable[Answer]]


def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-standin",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "standin",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def tool_call_stream(name: str, arguments: str, call_id: str = "call_1") -> list[str]:
    """A tool call as OpenAI streams it: the name first, the arguments in pieces."""
    pieces = [arguments[i : i + 7] for i in range(0, len(arguments), 7)]
    first = {
        "role": "assistant",
        "tool_calls": [
            {
                "index": 0,
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": ""},
            }
        ],
    }
    rest = [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
    return [chunk(first), *(chunk(d) for d in rest), chunk({}, "tool_calls"), "data: [DONE]\n\n"]


def text_stream(text: str) -> list[str]:
    words = text.split(" ")
    deltas = [chunk({"role": "assistant", "content": ""})]
    deltas += [
        chunk({"content": w + (" " if i < len(words) - 1 else "")}) for i, w in enumerate(words)
    ]
    return [*deltas, chunk({}, "stop"), "data: [DONE]\n\n"]


@dataclass
class StandIn:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    script: list[Reply] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def standin() -> Iterator[StandIn]:
    port = free_port()
    state = StandIn(url=f"http://127.0.0.1:{port}/v1")

    async def completions(request: Request) -> Response:
        body = await request.json()
        state.requests.append(body)
        state.headers.append(dict(request.headers))
        step = state.script.pop(0) if state.script else (lambda _: text_stream("nothing more"))
        reply = step(body)
        answer = reply if isinstance(reply, Response | list) else await reply
        if isinstance(answer, Response):
            return answer

        async def events() -> AsyncIterator[str]:
            for line in answer:
                yield line

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "stand-in did not start"
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(10)


def wired(setup: Setup, standin: StandIn, **settings: object) -> AgentService:
    configured = setup.settings.model_copy(
        update={
            "model": "openai-compatible:standin",
            "openai_base_url": standin.url,
            "openai_api_key": SecretStr(KEY),
            **settings,
        }
    )
    choice = choose_model(configured, env={})
    assert choice.problem is None
    return build_agent_service(
        settings=configured,
        sessions=setup.sessions,
        notebooks=setup.notebooks,
        model=choice,
        env={},
    )


def tool_results(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "tool"]


async def test_streamed_tool_call_runs_against_marimo(setup: Setup, standin: StandIn) -> None:
    standin.script = [
        lambda body: tool_call_stream("add_cell", json.dumps({"code": "wire = total + 1\nwire"})),
        lambda body: text_stream(
            "The new cell shows " + ("43" if "43" in tool_results(body)[0] else "?")
        ),
    ]
    service = wired(setup, standin)
    async with service.listen(setup.user, "nb") as events:
        reply = await service.chat(setup.user, "nb", "add a cell with total + 1", {"cell_ids": []})
        seen = []
        while (event := events.get_nowait()) is not None:
            seen.append(event.model_dump(mode="json"))
    assert reply.status == "done", reply.message
    assert reply.message == "The new cell shows 43"
    assert [(c.tool_name, c.status) for c in reply.tool_calls] == [("add_cell", "ok")]
    await wait_file(setup.path, lambda text: "wire = total + 1" in text)

    first, second = standin.requests
    assert first["stream"] is True
    tools = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert {"add_cell", "delete_cells", "get_notebook_map", "search_marimo_docs"} <= set(tools)
    assert tools["add_cell"]["parameters"]["required"] == ["code"]
    system = " ".join(
        m["content"] for m in first["messages"] if m["role"] in ("system", "developer")
    )
    assert "notebook `nb`" in system
    assert "marimo" in system.lower()
    assert "base = 40" in system  # the notebook map
    assert first["messages"][-1] == {"role": "user", "content": "add a cell with total + 1"}
    assert "43" in tool_results(second)[0]
    assert standin.headers[0]["authorization"] == f"Bearer {KEY}"
    deltas = [e["delta"] for e in seen if e["type"] == "text_delta"]
    assert len(deltas) > 3
    assert "".join(deltas) == reply.message
    audit = await service.audit(setup.user, "nb")
    assert KEY not in json.dumps([a.__dict__ for a in audit], default=str)


async def test_approval_over_the_wire(setup: Setup, standin: StandIn) -> None:
    cells = [c["cell_id"] for c in (await setup.client.cell_map())["cells"]]
    standin.script = [
        lambda body: tool_call_stream("delete_cells", json.dumps({"cell_ids": [cells[1]]})),
        lambda body: text_stream("Deleted as you approved."),
    ]
    service = wired(setup, standin)
    reply = await service.chat(setup.user, "nb", "delete the second cell")
    assert reply.pending_approval is not None
    assert len(standin.requests) == 1
    done = await service.approve(setup.user, "nb", reply.pending_approval.id)
    assert done.message == "Deleted as you approved."
    assert "Deleted cell(s)" in tool_results(standin.requests[1])[0]
    await wait_file(setup.path, lambda text: "base + 2" not in text)


async def test_provider_error_is_a_clear_message_without_the_key(
    setup: Setup, standin: StandIn
) -> None:
    standin.script = [
        lambda body: JSONResponse(
            {
                "error": {
                    "message": f"Incorrect API key provided: {KEY}",
                    "type": "invalid_request_error",
                }
            },
            status_code=401,
        )
    ]
    reply = await wired(setup, standin).chat(setup.user, "nb", "hi")
    assert reply.status == "failed"
    assert "401" in reply.message
    assert KEY not in reply.message
    assert KEY[:12] not in reply.message
    history = await wired(setup, standin).history(setup.user, "nb")
    assert KEY not in json.dumps([m.__dict__ for m in history.messages], default=str)


async def test_a_slow_provider_times_out_with_a_clear_message(
    setup: Setup, standin: StandIn
) -> None:
    async def slow(body: dict[str, Any]) -> list[str]:
        await asyncio.sleep(5)
        return text_stream("too late")

    standin.script = [slow, slow]  # a retry would meet the same slowness
    reply = await wired(setup, standin, model_timeout=1.0).chat(setup.user, "nb", "hi")
    assert reply.status == "failed"
    assert "did not answer" in reply.message or "timed out" in reply.message.lower(), reply.message
    assert len(standin.requests) == 1  # no retries: bounded by model_timeout
