"""The agent router over a real AgentService and SQLite, with fake notebooks and users
(a small app with only this router; no marimo, no server process)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from hexa.agent import build_agent_service
from hexa.api import agent as agent_api
from hexa.api.errors import install_error_handlers
from hexa.config import Settings
from hexa.store import NotebookRepository, UserRepository, create_engine, create_sessionmaker
from hexa.users import Principal

from .conftest import NOTEBOOK
from .fakes import FakeMarimoClient, FakeNotebooks


class FakeUsers:
    """Token -> user (a fake of UserService.authenticate)."""

    def __init__(self) -> None:
        self.tokens: dict[str, Principal] = {}

    async def authenticate(self, token: str) -> Principal | None:
        return self.tokens.get(token)


def make_app(db: Path, data: Path) -> tuple[FastAPI, FakeNotebooks]:
    fakes = FakeNotebooks()
    users = FakeUsers()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(f"sqlite+aiosqlite:///{db}")
        sessions = create_sessionmaker(engine)
        async with sessions.begin() as session:
            alice = (await UserRepository(session).create("alice", token="alice-token")).user
            bob = (await UserRepository(session).create("bob", token="bob-token")).user
            await NotebookRepository(session).create(alice.id, "nb1", "one.py", "One")
            await NotebookRepository(session).create(bob.id, "bobnb", "bob.py", "Bob")
            a, b = Principal(alice.id, "alice"), Principal(bob.id, "bob")
        users.tokens.update({"alice-token": a, "bob-token": b})
        fakes.add(a, "nb1", FakeMarimoClient(list(NOTEBOOK)))
        fakes.add(b, "bobnb", FakeMarimoClient([("Bbbb", "z = 1")]))
        settings = Settings(data_dir=data, model="builtin", token=None)
        agent = build_agent_service(settings=settings, sessions=sessions, notebooks=fakes, env={})
        app.state.services = SimpleNamespace(users=users, notebooks=fakes, agent=agent)
        yield
        await agent.close()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(agent_api.router)
    return app, fakes


@pytest.fixture
def client(tmp_path: Path, migrated_template: Path) -> Iterator[tuple[TestClient, FakeNotebooks]]:
    db = tmp_path / "hexa.db"
    shutil.copyfile(migrated_template, db)
    app, fakes = make_app(db, tmp_path / "data")
    with TestClient(app, headers={"Authorization": "Bearer alice-token"}) as http:
        yield http, fakes


def post(http: TestClient, path: str, body: dict[str, Any], status: int = 200) -> Any:
    reply = http.post(path, json=body)
    assert reply.status_code == status, reply.text
    return reply.json()


def test_chat_reply_has_the_contract_shape(client: tuple[TestClient, FakeNotebooks]) -> None:
    http, fakes = client
    body = post(http, "/api/chat", {"notebook_id": "nb1", "message": "```python\n6 * 7\n```"})
    assert set(body) == {"message", "tool_calls", "pending_approval", "turn_id", "status", "error"}
    assert body["pending_approval"] is None
    assert body["status"] == "done"
    assert "42" in body["message"]
    [call] = body["tool_calls"]
    assert call["tool_name"] == "add_cell"
    assert call["arguments"]["code"] == "6 * 7"
    assert fakes.clients["nb1"].cells[-1].code == "6 * 7"


def test_approve_and_reject_over_http(client: tuple[TestClient, FakeNotebooks]) -> None:
    http, fakes = client
    body = post(http, "/api/chat", {"notebook_id": "nb1", "message": "delete cell vblA"})
    pending = body["pending_approval"]
    assert set(pending) >= {"id", "operation", "description", "arguments"}
    assert pending["operation"] == "delete_cells"
    assert pending["arguments"]["cell_ids"] == ["vblA"]
    assert len(fakes.clients["nb1"].cells) == 3
    done = post(http, "/api/approve", {"notebook_id": "nb1", "approval_id": pending["id"]})
    assert done["status"] == "done"
    assert len(fakes.clients["nb1"].cells) == 2
    again = post(
        http, "/api/approve", {"notebook_id": "nb1", "approval_id": pending["id"]}, status=409
    )
    assert "already approved" in again["detail"]

    body = post(http, "/api/chat", {"notebook_id": "nb1", "message": "delete cell MJUe"})
    told = post(
        http, "/api/reject", {"notebook_id": "nb1", "approval_id": body["pending_approval"]["id"]}
    )
    assert told["message"].startswith("OK, I did not run")
    assert len(fakes.clients["nb1"].cells) == 2


def test_history_audit_undo_and_info(client: tuple[TestClient, FakeNotebooks]) -> None:
    http, fakes = client
    post(http, "/api/chat", {"notebook_id": "nb1", "message": "```python\ny = 1\n```"})
    chat = http.get("/api/notebooks/nb1/chat").json()
    assert [m["role"] for m in chat["messages"]] == ["user", "tool", "assistant"]
    assert chat["messages"][1]["data"]["tool_name"] == "add_cell"
    assert chat["pending_approvals"] == []
    audit = http.get("/api/notebooks/nb1/audit").json()
    assert [e["tool_name"] for e in audit["entries"]] == ["add_cell"]
    assert audit["entries"][0]["user"] == "alice"
    assert audit["entries"][0]["decision"] == "auto"
    undone = post(http, "/api/notebooks/nb1/undo", {})
    assert undone["notebooks"] == ["nb1"]
    assert len(fakes.clients["nb1"].cells) == 3
    assert post(http, "/api/notebooks/nb1/undo", {}, status=409)["detail"]
    info = http.get("/api/agent").json()
    assert info["model"] == "builtin"
    assert any(c["command"] == "run all" for c in info["commands"])
    assert {"name": "delete_cells", "tier": "destructive"} in info["tools"]


def test_errors_have_the_one_shape(client: tuple[TestClient, FakeNotebooks]) -> None:
    http, _ = client
    assert post(http, "/api/chat", {"notebook_id": "bobnb", "message": "hi"}, 404)["detail"]
    assert http.get("/api/notebooks/bobnb/chat").status_code == 404
    assert http.get("/api/notebooks/bobnb/audit").status_code == 404
    assert http.post("/api/notebooks/bobnb/undo").status_code == 404
    assert post(http, "/api/chat", {"notebook_id": "nb1"}, 422)["detail"]
    assert post(http, "/api/chat", {"notebook_id": "../x", "message": "hi"}, 422)["detail"]
    assert post(http, "/api/chat", {"notebook_id": "nb1", "message": " "}, 400)["detail"]
    assert post(http, "/api/approve", {"notebook_id": "nb1", "approval_id": "nope"}, 404)
    anonymous = http.post(
        "/api/chat", json={"notebook_id": "nb1", "message": "hi"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401


def test_websocket_streams_the_turn_and_marimo(client: tuple[TestClient, FakeNotebooks]) -> None:
    http, _ = client
    with http.websocket_connect("/api/ws/nb1") as ws:
        assert ws.receive_json() == {
            "type": "marimo",
            "op": "kernel-ready",
            "data": {"kiosk": True},
            "notebook_id": "nb1",
        }
        post(http, "/api/chat", {"notebook_id": "nb1", "message": "```python\n1 + 1\n```"})
        seen: list[dict[str, Any]] = []
        while not seen or seen[-1]["type"] != "turn_done":
            seen.append(ws.receive_json())
    types = [e["type"] for e in seen]
    assert types[0] == "turn_started"
    assert "tool_call_started" in types
    assert "text_delta" in types
    finished = next(e for e in seen if e["type"] == "tool_call_finished")
    assert finished["tool_name"] == "add_cell"
    assert finished["ok"] is True


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/ws/nb1", {"Authorization": ""}),
        ("/api/ws/nb1", {"Authorization": "Bearer wrong"}),
        ("/api/ws/bobnb", {}),  # someone else's notebook
        ("/api/ws/unknown", {}),
    ],
)
def test_websocket_refuses_before_accepting(
    client: tuple[TestClient, FakeNotebooks], path: str, headers: dict[str, str]
) -> None:
    http, _ = client
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        http.websocket_connect(path, headers=headers),
    ):
        pass
    assert refused.value.code == 1008
