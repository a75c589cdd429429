"""Session lifecycle against a real `marimo edit` (0.25.2): who becomes the editor, kernel
restart, a killed server, and a stop that leaves no process behind (research §2)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from typing import Any

import psutil
import pytest
import pytest_asyncio
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hexa.marimo.errors import MarimoNotRunningError, MarimoSessionError
from hexa.marimo.models import Notification
from tests.integration.marimo.conftest import CELL_IDS, Marimo, Starter, Viewer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


async def browser(marimo: Marimo, session_id: str) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect the way marimo's editor page does; its kernel-ready data."""
    base = "ws" + marimo.process.url.removeprefix("http")
    ws = await connect(
        f"{base}/ws?session_id={session_id}",
        additional_headers={"Authorization": f"Bearer {marimo.process.token}"},
        max_size=None,
        proxy=None,
        open_timeout=20,
    )
    async with asyncio.timeout(20):
        while True:
            frame = json.loads(await ws.recv())
            if frame["op"] == "kernel-ready":
                return ws, frame["data"]


async def drain(ws: ClientConnection) -> None:
    """Read until the socket closes (raises ConnectionClosed) or 10 s pass."""
    async with asyncio.timeout(10):
        while True:
            await ws.recv()


def editor(ready: dict[str, Any]) -> bool:
    caps = ready.get("consumer_capabilities") or ready.get("capabilities") or {}
    return not ready["kiosk"] and bool(caps.get("edit", True))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shared(servers: Starter) -> Marimo:
    """One server for the tests in file order: resume, restart, then stop."""
    return await servers()


async def test_browser_resumes_hexas_session_as_editor(shared: Marimo) -> None:
    marimo = shared
    client = marimo.client()
    info = await client.open_session(60)
    assert info.run_completed

    ws, ready = await browser(marimo, "browser-1")
    try:
        assert ready["resumed"] is True
        assert editor(ready)
        assert ready["stable_session_id"] == info.stable_session_id
        refs = await client.sessions()
        assert [(r.ws_session_id, r.stable_session_id) for r in refs] == [
            ("browser-1", info.stable_session_id)
        ]
        # The cached ws id went stale when the browser resumed; reads re-resolve it.
        cell_map = await client.cell_map()
        assert [c["cell_id"] for c in cell_map["cells"]] == list(CELL_IDS)
        assert await client.ws_session_id() == "browser-1"

        # While the browser edits, Hexa joining again is a viewer and runs nothing.
        again = await marimo.client().open_session(30)
        assert (again.kiosk, again.stable_session_id) == (True, info.stable_session_id)
        assert (await client.sessions())[0].ws_session_id == "browser-1"

        # Code mode works while the browser is connected, and the browser sees it.
        cid = await client.create_cell("agent_seen = 1")
        async with asyncio.timeout(20):
            while True:
                frame = json.loads(await ws.recv())
                if frame["op"] == "notebook-document-transaction":
                    break
        assert frame["data"]["transaction"]["changes"][0]["cellId"] == cid
    finally:
        await ws.close()

    # A viewer on the orphaned session does not keep the next browser from editing.
    viewer = Viewer(client)
    await viewer.start()
    try:
        ws2, ready2 = await browser(marimo, "browser-2")
        await ws2.close()
        assert ready2["resumed"] is True
        assert editor(ready2)
    finally:
        await viewer.stop()


async def test_restart_kernel_keeps_the_server(shared: Marimo) -> None:
    marimo = shared
    client = marimo.client()
    first = await client.open_session(60)
    assert first.resumed  # the session of the test before, orphaned again
    old = marimo.client(stable_session_id=first.stable_session_id)
    ws, _ = await browser(marimo, "browser-r")
    events: list[Notification] = []
    joined = asyncio.Event()

    async def watch() -> None:
        async with contextlib.aclosing(client.events()) as stream:
            async for frame in stream:
                events.append(frame)
                joined.set()

    watcher = asyncio.create_task(watch())
    try:
        async with asyncio.timeout(20):
            await joined.wait()  # the viewer is on the old session
        second = await client.restart_kernel(60)
        assert second.stable_session_id != first.stable_session_id
        assert not second.resumed
        assert second.run_completed
        # Every socket on the old session was closed with MARIMO_SHUTDOWN.
        with pytest.raises(ConnectionClosed) as closed:
            await drain(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.reason == "MARIMO_SHUTDOWN"
        async with asyncio.timeout(10):
            await watcher  # the event stream ends instead of failing
        assert events[0]["op"] == "kernel-ready"

        assert await client.health()
        assert await client.kernel_status() == "idle"
        outputs = {o["cell_id"]: o for o in await client.cell_outputs(["vblA"])}
        assert outputs["vblA"]["console_outputs"]["stdout"] == ["hello from print\n"]
        with pytest.raises(MarimoSessionError):
            await old.execute("1", timeout=10)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await ws.close()


def group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
    return members


async def assert_group_gone(pgid: int) -> None:
    """No process of the group runs. stop() returns once the server is reaped; the SIGKILL
    it sends the group lands on the kernel a moment later, hence the short wait. A kernel
    whose server died first is reparented to pid 1, and an init that does not reap (as in
    some sandboxes) leaves it a zombie, which still answers killpg(pgid, 0)."""
    async with asyncio.timeout(5):
        while group_members(pgid):
            await asyncio.sleep(0.05)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return
    zombies = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == pgid and _zombie(p)]
    assert zombies, "killpg found the group but psutil found no member"


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _zombie(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True  # gone meanwhile


async def test_kill_9_is_not_running_and_stop_reaps_the_group(servers: Starter) -> None:
    marimo = await servers()
    client = marimo.client()
    # No session yet: a viewer has nothing to join.
    with pytest.raises(MarimoSessionError):
        async with contextlib.aclosing(client.events()) as stream:
            await anext(stream)
    await client.open_session(60)
    pid = marimo.process.pid
    assert pid is not None
    assert len(group_members(pid)) >= 2  # the server and its session's kernel

    viewer = Viewer(client)
    await viewer.start()
    mark = len(viewer.frames)
    running = asyncio.create_task(client.execute("import time\ntime.sleep(30)", timeout=60))
    await viewer.wait_for(  # the code is running in the kernel
        lambda f: (
            f["op"] == "cell-op"
            and f["data"].get("cell_id") == "__scratch__"
            and f["data"].get("status") == "running"
        ),
        after=mark,
    )
    await viewer.stop()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(MarimoNotRunningError):
        await running
    async with asyncio.timeout(10):
        await marimo.process.wait()

    assert not await client.health()
    with pytest.raises(MarimoNotRunningError):
        await client.status()
    with pytest.raises(MarimoNotRunningError):
        await client.cell_map()
    with pytest.raises(MarimoNotRunningError):
        await client.execute("1", timeout=10)
    with pytest.raises(MarimoNotRunningError):
        await client.open_session(10)

    # The kernel outlived its server; stopping the process group takes it too.
    await marimo.process.stop(5)
    await assert_group_gone(pid)


async def test_stop_leaves_no_process(shared: Marimo) -> None:
    marimo = shared
    await marimo.client().open_session(60)
    pid = marimo.process.pid
    assert pid is not None
    assert len(group_members(pid)) >= 2
    await marimo.process.stop(5)
    assert marimo.process.returncode() is not None
    await assert_group_gone(pid)
