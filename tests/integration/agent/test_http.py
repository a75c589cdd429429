"""The agent API of a real `hexa serve` (real marimo, builtin model; on SQLite and on
PostgreSQL): chat, approvals (also across a restart of the server), the event WebSocket,
history, audit and undo."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import websockets

from tests.support.server import HexaServer, running_server

from .conftest import NOTEBOOK

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def notebook_file(server: HexaServer, name: str) -> Path:
    return server.data_dir / "notebooks" / "default" / name


def wait_text(path: Path, predicate: Callable[[str], bool], timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text()
        if predicate(text) or time.monotonic() > deadline:
            assert predicate(text), text
            return text
        time.sleep(0.05)


def open_notebook(server: HexaServer, client: httpx2.Client, notebook_id: str) -> Path:
    path = notebook_file(server, f"{notebook_id}.py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NOTEBOOK)
    reply = client.post(
        "/api/notebooks/open",
        json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
    )
    assert reply.status_code == 200, reply.text
    return path


def chat(client: httpx2.Client, notebook_id: str, message: str) -> dict[str, Any]:
    reply = client.post("/api/chat", json={"notebook_id": notebook_id, "message": message})
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    return body


def cell_id(message: str) -> str:
    found = re.search(r"cell `([A-Za-z0-9_-]+)`", message)
    assert found, message
    return found.group(1)


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_store_env: dict[str, str]
) -> Iterator[HexaServer]:
    with running_server(
        tmp_path_factory.mktemp("hexa-agent"), HEXA_RUN_WAIT="20", **module_store_env
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def alice(server: HexaServer) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def notebook(server: HexaServer, alice: httpx2.Client) -> Iterator[Path]:
    path = open_notebook(server, alice, "agentnb")
    yield path
    alice.post("/api/notebooks/agentnb/close")


def test_chat_adds_and_runs_a_cell_in_the_file(alice: httpx2.Client, notebook: Path) -> None:
    body = chat(alice, "agentnb", "add a cell:\n```python\nhttp_y = total + 1\nhttp_y\n```")
    assert set(body) >= {"message", "tool_calls", "pending_approval"}
    assert body["pending_approval"] is None
    assert body["tool_calls"][0]["tool_name"] == "add_cell"
    assert body["tool_calls"][0]["arguments"]["code"] == "http_y = total + 1\nhttp_y"
    assert "43" in body["message"]
    wait_text(notebook, lambda text: "http_y = total + 1" in text)
    history = alice.get("/api/notebooks/agentnb/chat").json()
    assert [m["role"] for m in history["messages"]][-3:] == ["user", "tool", "assistant"]
    audit = alice.get("/api/notebooks/agentnb/audit").json()["entries"]
    assert audit[0]["tool_name"] == "add_cell"
    assert audit[0]["decision"] == "auto"
    assert audit[0]["user"] == "default"
    info = alice.get("/api/agent").json()
    assert info["model"] == "builtin"


def test_delete_needs_approval_and_applies_once(alice: httpx2.Client, notebook: Path) -> None:
    body = chat(alice, "agentnb", "```python\nto_delete = 1\n```")
    doomed = cell_id(body["message"])
    wait_text(notebook, lambda text: "to_delete = 1" in text)
    body = chat(alice, "agentnb", f"delete cell {doomed}")
    pending = body["pending_approval"]
    assert pending["operation"] == "delete_cells"
    assert pending["arguments"]["cell_ids"] == [doomed]
    # marimo saves asynchronously, and each save writes the whole notebook: once a later
    # edit shows in the file, a delete made before it would show too.
    barrier = alice.post(
        "/api/notebooks/agentnb/cells/execute",
        json={"cell_ids": ["barrier"], "codes": ["approval_barrier = 1"]},
    )
    assert barrier.status_code == 200, barrier.text
    text = wait_text(notebook, lambda text: "approval_barrier = 1" in text)
    assert "to_delete = 1" in text
    decision = {"notebook_id": "agentnb", "approval_id": pending["id"]}
    with httpx2.Client(base_url=alice.base_url, headers=alice.headers, timeout=60) as other:

        async def both() -> list[int]:
            async with httpx2.AsyncClient(
                base_url=str(alice.base_url), headers=dict(alice.headers), timeout=60
            ) as a:
                replies = await asyncio.gather(
                    a.post("/api/approve", json=decision), a.post("/api/approve", json=decision)
                )
            return sorted(r.status_code for r in replies)

        assert asyncio.run(both()) == [200, 409]
        assert other.post("/api/approve", json=decision).status_code == 409
    wait_text(notebook, lambda text: "to_delete = 1" not in text)
    audit = alice.get("/api/notebooks/agentnb/audit").json()["entries"]
    assert [e["decision"] for e in audit if e["tool_name"] == "delete_cells"] == ["approved"]


def test_other_users_cannot_touch_the_notebook(
    server: HexaServer, alice: httpx2.Client, notebook: Path
) -> None:
    token = server.add_user("bobagent")
    with server.client(token) as bob:
        body = chat(alice, "agentnb", "delete cell nonexistent")
        approval = body["pending_approval"]["id"]
        assert (
            bob.post(
                "/api/chat", json={"notebook_id": "agentnb", "message": "list cells"}
            ).status_code
            == 404
        )
        decision = {"notebook_id": "agentnb", "approval_id": approval}
        assert bob.post("/api/approve", json=decision).status_code == 404
        assert bob.get("/api/notebooks/agentnb/chat").status_code == 404
        assert bob.get("/api/notebooks/agentnb/audit").status_code == 404
        assert bob.post("/api/notebooks/agentnb/undo").status_code == 404
    assert alice.post("/api/reject", json=decision).status_code == 200


def test_websocket_relays_the_turn_and_marimo(
    server: HexaServer, alice: httpx2.Client, notebook: Path
) -> None:
    url = server.url.replace("http", "ws") + "/api/ws/agentnb"

    def relayed(seen: list[dict[str, Any]]) -> bool:
        """The turn is done, and marimo's notification of its new cell came through."""
        done = next((e for e in seen if e["type"] == "turn_done"), None)
        if done is None:
            return False
        cell = cell_id(done["message"])
        return any(
            e["type"] == "marimo" and e["op"] == "cell-op" and e["data"].get("cell_id") == cell
            for e in seen
        )

    async def run() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        headers = {"Authorization": f"Bearer {server.token}"}
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            # marimo greets a viewer as it connects: the first of its notifications to come
            # through shows the relay is live, so the turn's will be relayed too.
            async with asyncio.timeout(30):
                while json.loads(await ws.recv())["type"] != "marimo":
                    pass
            async with httpx2.AsyncClient(base_url=server.url, headers=headers, timeout=60) as http:
                posted = asyncio.create_task(
                    http.post(
                        "/api/chat",
                        json={
                            "notebook_id": "agentnb",
                            "message": "```python\nws_v = 5\nws_v\n```",
                        },
                    )
                )
                async with asyncio.timeout(30):
                    while not relayed(seen):
                        seen.append(json.loads(await ws.recv()))
                assert (await posted).status_code == 200
        return seen

    seen = asyncio.run(run())
    types = [e["type"] for e in seen]
    assert {
        "turn_started",
        "tool_call_started",
        "tool_call_finished",
        "text_delta",
        "turn_done",
    } <= set(types)
    assert all(e["notebook_id"] == "agentnb" for e in seen)


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_websocket_refuses_without_a_valid_token(
    server: HexaServer, notebook: Path, token: str
) -> None:
    async def run() -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(
                server.url.replace("http", "ws") + "/api/ws/agentnb", additional_headers=headers
            ):
                pass
        return refused.value.response.status_code

    assert asyncio.run(run()) == 403


def test_undo_over_http(alice: httpx2.Client, notebook: Path) -> None:
    chat(alice, "agentnb", "```python\nundo_me = 1\n```")
    wait_text(notebook, lambda text: "undo_me = 1" in text)
    reply = alice.post("/api/notebooks/agentnb/undo")
    assert reply.status_code == 200, reply.text
    wait_text(notebook, lambda text: "undo_me" not in text)
    audit = alice.get("/api/notebooks/agentnb/audit").json()["entries"]
    assert audit[0]["tool_name"] == "undo_turn"


def test_an_approval_survives_a_restart_of_hexa_serve(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    with running_server(tmp_path, **store_env) as server:
        with server.client() as client:
            path = open_notebook(server, client, "restartnb")
            body = chat(client, "restartnb", "list cells")
            first = re.findall(r"`([A-Za-z0-9_-]{4})`", body["message"])[0]
            body = chat(client, "restartnb", f"delete cell {first}")
            approval = body["pending_approval"]["id"]
        server.stop()
        assert "base = 40" in path.read_text()
        server.start()
        with server.client() as client:
            history = client.get("/api/notebooks/restartnb/chat").json()
            assert [p["id"] for p in history["pending_approvals"]] == [approval]
            reply = client.post(
                "/api/approve", json={"notebook_id": "restartnb", "approval_id": approval}
            )
            assert reply.status_code == 200, reply.text
            assert "Deleted" in reply.json()["message"]
            wait_text(path, lambda text: "base = 40" not in text)
