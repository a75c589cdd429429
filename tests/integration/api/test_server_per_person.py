"""`HEXA_SERVER_PER_PERSON`: a person's notebooks are sessions in one marimo of theirs,
through the real API and proxy.

Real `hexa serve` (its default sandbox: bwrap where it works; SQLite), real marimo, real
HTTP and WebSocket through Hexa's proxy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx2
import pytest

from tests.integration.api.test_spares_server import kernel_ready, spare_pids
from tests.support.server import HexaServer, running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HexaServer]:
    data = tmp_path_factory.mktemp("hexa")
    with running_server(data, HEXA_SERVER_PER_PERSON="true") as srv:
        yield srv


def opened(api: httpx2.Client, notebook_id: str) -> None:
    reply = api.post(
        "/api/notebooks/open",
        json={"notebook_id": notebook_id, "notebook_path": f"{notebook_id}.py"},
    )
    assert reply.status_code == 200, reply.text


def run(api: httpx2.Client, notebook_id: str, code: str) -> None:
    reply = api.post(
        f"/api/notebooks/{notebook_id}/cells/execute", json={"cell_ids": ["c"], "codes": [code]}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["success"], reply.text


def test_a_persons_notebooks_are_sessions_in_one_marimo(server: HexaServer) -> None:
    bob = server.add_user("bob-shared")
    with server.client() as api, server.client(bob) as bobs:
        opened(api, "s1")
        opened(api, "s2")
        assert len(spare_pids(server)) == 1, "one marimo serves both"
        opened(bobs, "s3")
        assert len(spare_pids(server)) == 2, "Bob's is his own"
        run(api, "s1", "where = 'first'")
        run(api, "s2", "where = 'second'")
        # Each notebook's page, API and WebSocket are its own session's.
        for notebook_id in ("s1", "s2"):
            page = api.get(f"/nb/{notebook_id}/?file=s3.py")
            assert page.status_code == 200, page.text
            assert f"<marimo-filename hidden>{notebook_id}.py</marimo-filename>" in page.text
        ready = asyncio.run(kernel_ready(server, "s2"))
        assert "where = 'second'" in ready["codes"]  # type: ignore[operator]
        assert "first" not in str(ready["codes"])
        assert "second" in api.get("/api/notebooks/s2/code").text
        assert "second" not in api.get("/api/notebooks/s1/code").text
        # Closing one leaves the other running in the same marimo.
        assert api.post("/api/notebooks/s1/close").status_code == 200
        assert len(spare_pids(server)) == 2
        run(api, "s2", "where = 'still'")
        assert api.get("/api/notebooks/s1").json()["status"] == "stopped"
        assert api.get("/api/notebooks/s2").json()["status"] == "running"
        for client, notebook_id in ((api, "s2"), (bobs, "s3")):
            assert client.post(f"/api/notebooks/{notebook_id}/close").status_code == 200
    # The last notebook of each closed: no marimo is left.
    deadline = time.monotonic() + 15
    while spare_pids(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert spare_pids(server) == []
