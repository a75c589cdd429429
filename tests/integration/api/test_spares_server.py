"""A person's next notebook opens in their warm spare, through the real API and proxy.

Real `hexa serve` (its default sandbox: bwrap where it works), real marimo, real HTTP and
WebSocket through Hexa's proxy, on SQLite and on PostgreSQL. Which marimo served an open
is read from Hexa's log, the only place it is told. The server is this module's, with
spares instead of the default server per person.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator

import psutil
import pytest
import websockets

from tests.support.server import HexaServer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, module_store_env: dict[str, str]
) -> Iterator[HexaServer]:
    data = tmp_path_factory.mktemp("hexa-spares")
    with running_server(data, HEXA_SERVER_PER_PERSON="false", **module_store_env) as srv:
        yield srv


def spare_pids(server: HexaServer) -> list[int]:
    """marimo servers serving a folder (spares, claimed or not) under this `hexa serve`."""
    assert server.proc is not None
    found = []
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            cmd = proc.cmdline()
        except psutil.Error:
            continue
        if cmd[1:4] == ["-m", "marimo", "edit"] and not cmd[4].endswith(".py"):
            found.append(proc.pid)
    return found


async def kernel_ready(server: HexaServer, notebook_id: str) -> dict[str, object]:
    url = server.url.replace("http", "ws") + f"/nb/{notebook_id}/ws?session_id=view&kiosk=true"
    headers = {"Authorization": f"Bearer {server.token}"}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        async with asyncio.timeout(30):
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("op") == "kernel-ready":
                    data: dict[str, object] = frame["data"]
                    return data


def test_the_next_notebook_opens_in_the_spare_and_the_proxy_pins_its_file(
    server: HexaServer,
) -> None:
    with server.client() as api:
        start = len(server.log_text())
        first = api.post(
            "/api/notebooks/open", json={"notebook_id": "p1", "notebook_path": "p1.py"}
        )
        assert first.status_code == 200, first.text
        server.wait_for_log(r"a spare is ready for default", after=start)
        second = api.post(
            "/api/notebooks/open", json={"notebook_id": "p2", "notebook_path": "p2.py"}
        )
        assert second.status_code == 200, second.text
        server.wait_for_log(r"spare\.[0-9a-f]+ \(pid \d+\) now serves p2", after=start)

        # The editor's page, through the proxy, is p2's, whatever file the browser asks for.
        for query in ("", "?file=p1.py", "?file=../../etc/passwd"):
            page = api.get(f"/nb/p2/{query}")
            assert page.status_code == 200, page.text
            assert "<marimo-filename hidden>p2.py</marimo-filename>" in page.text
        # Its API and WebSocket reach p2's session.
        ran = api.post(
            "/api/notebooks/p2/cells/execute",
            json={"cell_ids": ["w"], "codes": ["warm = 'from the spare'"]},
        )
        assert ran.status_code == 200, ran.text
        assert ran.json()["success"], ran.text
        ready = asyncio.run(kernel_ready(server, "p2"))
        assert "warm = 'from the spare'" in ready["codes"]  # type: ignore[operator]
        state = api.get("/api/notebooks/p2/state").json()
        assert [c["preview"] for c in state["cells"]][-1] == "warm = 'from the spare'"
        status = api.post("/nb/p2/api/files/list_files", json={"path": "."})
        assert status.status_code == 200, status.text
        # p1 (started cold) is untouched by any of it.
        assert "warm" not in api.get("/api/notebooks/p1/code").text
        assert "from the spare" in api.get("/api/notebooks/p2/code").text

        for notebook_id in ("p1", "p2"):
            assert api.post(f"/api/notebooks/{notebook_id}/close").status_code == 200
    # The person's last notebook closed: their spare, claimed or waiting, is gone too.
    deadline = time.monotonic() + 15
    while spare_pids(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert spare_pids(server) == []


def test_a_spare_is_never_another_persons(server: HexaServer) -> None:
    bob = server.add_user("bob-spares")
    with server.client() as alice, server.client(bob) as bobs:
        start = len(server.log_text())
        opened = alice.post(
            "/api/notebooks/open", json={"notebook_id": "q1", "notebook_path": "q1.py"}
        )
        assert opened.status_code == 200, opened.text
        server.wait_for_log(r"a spare is ready for default", after=start)
        theirs = bobs.post(
            "/api/notebooks/open", json={"notebook_id": "q2", "notebook_path": "q2.py"}
        )
        assert theirs.status_code == 200, theirs.text
        assert not re.search(r"now serves q2", server.log_text()[start:]), "Bob started cold"
        for client, notebook_id in ((alice, "q1"), (bobs, "q2")):
            assert client.post(f"/api/notebooks/{notebook_id}/close").status_code == 200
