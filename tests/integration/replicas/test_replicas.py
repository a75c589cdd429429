"""Two `hexa serve` replicas on one PostgreSQL, for real: what either does, the other sees.

Real parts: two real `hexa serve` processes (replicas `a` and `b`, one data dir, the
sandbox Hexa picks itself), a real PostgreSQL cluster started by the tests, real marimo,
real HTTP and WebSocket through each replica's own proxy. The model is the builtin one.
Each replica beats every 0.5 s and counts as gone after 3 s without a beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import psutil
import pytest
import websockets

from tests.containers.journey import cell_holding, wait_for
from tests.support.postgres import PostgresCluster
from tests.support.server import HexaServer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

REPLICA_ENV = {"HEXA_HEARTBEAT_INTERVAL": "0.5", "HEXA_REPLICA_TIMEOUT": "3"}


class Pair:
    """Replicas `a` and `b` of one Hexa: one database, one data dir, one token."""

    def __init__(self, data: Path, url: str, **env: str) -> None:
        common = {"HEXA_DATABASE_URL": url, **REPLICA_ENV, **env}
        self.a = HexaServer(data, env={**common, "HEXA_REPLICA_ID": "a"}, log_name="a.log")
        self.b = HexaServer(data, env={**common, "HEXA_REPLICA_ID": "b"}, log_name="b.log")

    def stop(self) -> None:
        for server in (self.a, self.b):
            server.stop()


@pytest.fixture
def pair(postgres: PostgresCluster, tmp_path: Path) -> Iterator[Pair]:
    name = postgres.create_database()
    replicas = Pair(tmp_path, postgres.url(name))
    try:
        replicas.a.start()
        replicas.b.start()
        yield replicas
    finally:
        replicas.stop()
        postgres.drop_database(name)


def open_on(server: HexaServer, notebook_id: str) -> None:
    with server.client() as api:
        reply = api.post(
            "/api/notebooks/open",
            json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
        )
        assert reply.status_code == 200, reply.text


def status_on(server: HexaServer, notebook_id: str) -> dict[str, Any]:
    with server.client() as api:
        reply = api.get(f"/api/notebooks/{notebook_id}")
        assert reply.status_code == 200, reply.text
        view: dict[str, Any] = reply.json()
        return view


def chat_on(server: HexaServer, notebook_id: str, message: str) -> dict[str, Any]:
    with server.client() as api:
        reply = api.post("/api/chat", json={"notebook_id": notebook_id, "message": message})
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        return body


def marimo_pids(server: HexaServer) -> list[int]:
    assert server.proc is not None
    return [p.pid for p in psutil.Process(server.proc.pid).children(recursive=True)]


def test_a_notebook_opened_on_a_is_used_on_b_and_as_websocket_sees_bs_turn(pair: Pair) -> None:
    open_on(pair.a, "shared")
    # B reaches the notebook where A runs it: its state and marimo's editor, by B's proxy.
    assert status_on(pair.b, "shared")["status"] == "running"
    with pair.b.client() as api:
        editor = api.get("/nb/shared/", follow_redirects=True)
        assert editor.status_code == 200
        assert "marimo" in editor.text

    url = pair.a.url.replace("http", "ws") + "/api/ws/shared"
    headers = {"Authorization": f"Bearer {pair.a.token}"}

    async def listen_while_b_chats() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
            # A's own status event, relayed to itself, shows A listens: B's come after.
            reply_task = asyncio.create_task(
                asyncio.to_thread(chat_on, pair.b, "shared", "```python\nfrom_b = 6 * 7\n```")
            )
            async with asyncio.timeout(60):
                while not any(e["type"] == "turn_done" for e in seen):
                    seen.append(json.loads(await ws.recv()))
            return seen, await reply_task

    seen, reply = asyncio.run(listen_while_b_chats())
    kinds = [e["type"] for e in seen if e["type"] != "marimo"]
    assert kinds[0] == "turn_started", kinds
    assert "tool_call_started" in kinds
    assert "tool_call_finished" in kinds
    done = next(e for e in seen if e["type"] == "turn_done")
    assert done["turn_id"] == reply["turn_id"]
    assert reply["tool_calls"][0]["tool_name"] == "add_cell"
    # The cell B's turn added runs in the marimo that A started.
    with pair.a.client() as api:
        state = api.get("/api/notebooks/shared/state").json()
        assert state["variables"]["from_b"]["value"] == "42"


def test_an_editor_save_through_a_keeps_the_cell_bs_turn_added(pair: Pair) -> None:
    """The editor's WebSocket and its save go through A, the agent's turn runs on B: a
    save the editor built before it heard of B's cell is mended on A with what B's batch
    reported, relayed through PostgreSQL (see hexa.marimo.saves)."""
    open_on(pair.a, "mended")
    headers = {"Authorization": f"Bearer {pair.a.token}"}
    ws_a = pair.a.url.replace("http", "ws")

    async def scenario() -> list[tuple[str, str]]:
        editor_url = ws_a + "/nb/mended/ws?session_id=editor-like"
        async with websockets.connect(editor_url, additional_headers=headers) as editor:
            async with asyncio.timeout(30):
                ops = [json.loads(await editor.recv())["op"] for _ in range(2)]
            assert "kernel-ready" in ops, ops
            with pair.a.client() as api:
                state = api.get("/api/notebooks/mended/state").json()
            known = [(c["cell_id"], c["preview"]) for c in state["cells"]]
            events = ws_a + "/api/ws/mended"
            async with websockets.connect(events, additional_headers=headers) as ws:
                turn = asyncio.create_task(
                    asyncio.to_thread(chat_on, pair.b, "mended", "```python\nby_b = 1\n```")
                )
                # B relays the batch's changes before its turn_done, on one connection.
                async with asyncio.timeout(60):
                    while json.loads(await ws.recv())["type"] != "turn_done":
                        pass
                await turn
            body: dict[str, Any] = {
                "cellIds": [i for i, _ in known],
                "codes": [code for _, code in known],
                "names": ["_"] * len(known),
                "configs": [{}] * len(known),
                "filename": "mended.py",
                "layout": None,
                "persist": True,
            }
            with pair.a.client() as api:
                saved = api.post(
                    "/nb/mended/api/kernel/save",
                    json=body,
                    headers={"Marimo-Session-Id": "editor-like"},
                )
                assert saved.status_code == 200, saved.text
                state = api.get("/api/notebooks/mended/state").json()
            return [(c["cell_id"], c["preview"]) for c in state["cells"]]

    after = asyncio.run(scenario())
    assert "by_b = 1" in dict(after).values()
    assert (pair.a.data_dir / "notebooks" / "default" / "mended.py").read_text().count(
        "by_b = 1"
    ) == 1


@pytest.mark.parametrize("shared", [True, False], ids=["person-server", "spare"])
def test_a_notebook_in_a_folder_marimo_on_a_is_reached_through_b(
    postgres: PostgresCluster, tmp_path: Path, shared: bool
) -> None:
    """A person's next notebook on A is a session in their marimo (the default) or runs in
    their warm spare: either way a marimo at its root, serving the person's folder."""
    name = postgres.create_database()
    pair = Pair(tmp_path, postgres.url(name), HEXA_SERVER_PER_PERSON=str(shared).lower())
    try:
        pair.a.start()
        pair.b.start()
        start = len(pair.a.log_text())
        open_on(pair.a, "first")
        if not shared:
            pair.a.wait_for_log(r"a spare is ready for default", after=start)
        open_on(pair.a, "second")
        if shared:
            log = pair.a.log_text()[start:]
            assert log.count("started the shared marimo of default") == 1
            assert "started marimo second:" not in log
        else:
            pair.a.wait_for_log(r"now serves second", after=start)
        # B finds A's marimo at its root, serving this notebook's file, by what A recorded.
        with pair.b.client() as api:
            editor = api.get("/nb/second/?file=first.py")
            assert editor.status_code == 200
            assert "<marimo-filename hidden>second.py</marimo-filename>" in editor.text
        assert chat_on(pair.b, "second", "```python\nvia_b = 6 * 7\n```")["status"] == "done"
        with pair.a.client() as api:
            state = api.get("/api/notebooks/second/state").json()
            assert state["variables"]["via_b"]["value"] == "42"
    finally:
        pair.stop()
        postgres.drop_database(name)


def test_twenty_concurrent_approvals_split_across_replicas_apply_once(pair: Pair) -> None:
    open_on(pair.a, "race")
    assert chat_on(pair.a, "race", "```python\ndoomed = 1\n```")["status"] == "done"
    with pair.b.client() as api:
        cell = cell_holding(api, "race", "doomed = 1")
    pending = chat_on(pair.b, "race", f"delete cell {cell}")["pending_approval"]
    assert pending is not None
    decision = {"notebook_id": "race", "approval_id": pending["id"]}
    codes: list[int] = []
    start = threading.Barrier(20)

    def approve(server: HexaServer) -> None:
        with server.client() as api:
            start.wait(timeout=30)
            codes.append(api.post("/api/approve", json=decision).status_code)

    threads = [
        threading.Thread(target=approve, args=(pair.a if i % 2 else pair.b,)) for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(codes) == [200] + [409] * 19, codes
    with pair.b.client() as api:
        audit = api.get("/api/notebooks/race/audit").json()
    applied = [e for e in audit["entries"] if e["tool_name"] == "delete_cells"]
    assert [e["decision"] for e in applied] == ["approved"], applied
    with pair.a.client() as api:
        cells = api.get("/api/notebooks/race/state").json()["cells"]
    assert all("doomed" not in c["preview"] for c in cells)


def kernel_of(proc: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return "multiprocessing.spawn" in " ".join(proc.cmdline())
    return False


def test_a_call_through_b_ends_when_the_kernel_on_a_dies(pair: Pair) -> None:
    """B's call waits on A's marimo, in a cell that sleeps, and the kernel dies on A inside
    the person's marimo server, which lives on. A notices, and closing the dead session
    for its restart ends marimo's stream to B: B answers 503 now, not at its timeout."""
    open_on(pair.a, "sleepy")
    assert pair.a.proc is not None
    [kernel] = [p for p in psutil.Process(pair.a.proc.pid).children(recursive=True) if kernel_of(p)]
    replies: list[httpx2.Response | BaseException] = []

    def execute_through_b() -> None:
        try:
            with pair.b.client() as api:
                replies.append(
                    api.post(
                        "/api/notebooks/sleepy/cells/execute",
                        json={"cell_ids": ["sleeper"], "codes": ["import time\ntime.sleep(300)"]},
                    )
                )
        except BaseException as exc:  # the assertion below shows it
            replies.append(exc)

    caller = threading.Thread(target=execute_through_b, daemon=True)
    caller.start()

    def sleeping() -> bool:
        with pair.a.client() as api:
            cells = api.get("/api/notebooks/sleepy/state").json()["cells"]
        return any("sleep(300)" in c["preview"] and c["runtime_state"] == "running" for c in cells)

    wait_for("the cell running on A", sleeping, 60)
    kernel.kill()
    # B's HTTP client gives up at 60 s, code mode at 120 s: the call must end before.
    caller.join(45)
    assert not caller.is_alive(), "B's call still waits on the dead kernel"
    [reply] = replies
    assert isinstance(reply, httpx2.Response), reply
    assert reply.status_code == 503, reply.text
    assert "notebook sleepy is not running" in reply.json()["detail"], reply.text


def test_when_a_dies_b_serves_its_notebooks_from_their_files(pair: Pair) -> None:
    open_on(pair.a, "orphan")
    ran = chat_on(pair.a, "orphan", "```python\nkept = 41\n```")
    assert ran["status"] == "done", ran
    notebook = pair.a.data_dir / "notebooks" / "default" / "orphan.py"
    wait_for("the cell saved", lambda: "kept = 41" in notebook.read_text(), 30)
    on_a = marimo_pids(pair.a)
    assert pair.a.proc is not None
    os.kill(pair.a.proc.pid, signal.SIGKILL)
    pair.a.proc.wait(10)
    pair.a.proc = None
    # A's heartbeat goes stale: B sees the notebook as stopped, not as running on A.
    wait_for("A gone", lambda: status_on(pair.b, "orphan")["status"] == "stopped", 30)
    open_on(pair.b, "orphan")
    with pair.b.client() as api:
        state = api.get("/api/notebooks/orphan/state").json()
    assert state["variables"]["kept"]["value"] == "41"
    assert "kept = 41" in notebook.read_text()
    assert set(on_a).isdisjoint(marimo_pids(pair.b))
    # A comes back: it takes nothing back from B.
    pair.a.start()
    assert status_on(pair.a, "orphan")["status"] == "running"
    with pair.a.client() as api:
        assert api.get("/api/notebooks/orphan/state").json()["variables"]["kept"]["value"] == "41"


def test_a_notebook_used_through_b_is_not_culled_by_a_and_is_culled_once(
    postgres: PostgresCluster, tmp_path: Path
) -> None:
    name = postgres.create_database()
    pair = Pair(tmp_path, postgres.url(name), HEXA_IDLE_TIMEOUT="4")
    try:
        pair.a.start()
        pair.b.start()
        open_on(pair.a, "idle")
        # Used only through B, for twice the idle timeout: A keeps it. (The pause paces
        # the use that keeps it alive; no step waits on it.)
        with pair.b.client() as api:
            until = time.monotonic() + 8
            while time.monotonic() < until:
                assert api.get("/api/notebooks/idle/state").status_code == 200
                assert status_on(pair.a, "idle")["status"] == "running"
                time.sleep(0.5)
        wait_for("culled", lambda: status_on(pair.b, "idle")["status"] == "stopped", 30)
    finally:
        pair.stop()
        postgres.drop_database(name)
    logs = [(tmp_path / log).read_text() for log in ("a.log", "b.log")]
    culls = sum(log.count("stopping idle notebook idle") for log in logs)
    assert culls == 1, logs
